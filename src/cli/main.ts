#!/usr/bin/env node
// openperouter: one CLI, one subcommand per component (see README.md).
import { Command, Option } from 'commander';
import { registerReloaderCommand } from '../frr/reloader-command.js';
import { registerControllerCommand } from './controller.js';
import { registerLabCommand } from './lab.js';
import { registerNodemarkerCommand } from './nodemarker.js';
import { registerOfflineCommands } from './offline.js';
import { registerStaticCommand } from './static.js';

const program = new Command()
  .name('openperouter')
  .description(
    'Provider Edge router for Kubernetes nodes (FRR + EVPN/VXLAN in a dedicated network namespace)',
  )
  .version('0.1.0')
  .showHelpAfterError()
  .addOption(new Option('--no-color', 'plain output').hideHelp());

registerOfflineCommands(program);
registerStaticCommand(program);
registerControllerCommand(program);
registerReloaderCommand(program);
registerLabCommand(program);
registerNodemarkerCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`openperouter: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
