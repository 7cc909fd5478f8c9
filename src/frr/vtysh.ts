// vtysh against one FRR instance: show commands and the list of running daemons.
import { stripVTControlCharacters } from 'node:util';
import { type CommandRunner, describeFailure, runCommand } from './exec.js';
import { checkTarget, type FrrTarget, VTYSH, vtyshTargetArgs, wrapCommand } from './target.js';

export interface VtyshOptions {
  target: FrrTarget;
  /** Per-call timeout. Default 10 s. */
  timeoutMs?: number;
  runner?: CommandRunner;
  /** Path of vtysh. Default /usr/bin/vtysh. */
  vtyshPath?: string;
}

export class Vtysh {
  readonly target: FrrTarget;
  readonly timeoutMs: number;
  private readonly runner: CommandRunner;
  private readonly path: string;

  constructor(opts: VtyshOptions) {
    checkTarget(opts.target);
    this.target = opts.target;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.runner = opts.runner ?? runCommand;
    this.path = opts.vtyshPath ?? VTYSH;
  }

  /** Runs `vtysh -c <cmd>...`; rejects with vtysh's own output when it fails. */
  async run(...commands: string[]): Promise<string> {
    const [file, args] = wrapCommand(this.target, this.path, [
      ...vtyshTargetArgs(this.target),
      ...commands.flatMap((c) => ['-c', c]),
    ]);
    const r = await this.runner(file, args, { timeoutMs: this.timeoutMs });
    if (r.code !== 0) {
      const said = stripVTControlCharacters(`${r.stdout}${r.stderr}`).trim();
      throw new Error(`${describeFailure('vtysh', r, this.timeoutMs)}${said ? `: ${said}` : ''}`);
    }
    return r.stdout;
  }

  /** Daemons vtysh is connected to (`show daemons`), e.g. ["zebra", "bgpd", "staticd", "bfdd"]. */
  async showDaemons(): Promise<string[]> {
    const out = await this.run('show daemons');
    return out.split(/\s+/).filter((d) => d !== '');
  }
}
