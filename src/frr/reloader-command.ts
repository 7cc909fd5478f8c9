// `openperouter reloader`: runs beside FRR, applies the FRR configs the node agent pushes over a
// unix socket (see reloader-server.ts).
import { type Command, InvalidArgumentError, Option } from 'commander';
import { isLogLevel, jsonLogger, type LogLevel } from './log.js';
import {
  DEFAULT_DAEMONS,
  DEFAULT_MAX_BODY,
  DEFAULT_SOCKET,
  DEFAULT_STATE_FILE,
  startReloaderServer,
} from './reloader-server.js';
import type { FrrTarget } from './target.js';

interface ReloaderFlags {
  socket: string;
  stateFile: string;
  pathspace?: string;
  vtySocket?: string;
  confdir?: string;
  rundir?: string;
  pidDir?: string;
  netns?: string;
  daemons: string[];
  restartCheckInterval: number;
  vtyshTimeout: number;
  reloadTimeout: number;
  maxBody: number;
  fastPathMaxLines: number;
  logLevel: LogLevel;
}

const positiveInt =
  (min: number) =>
  (s: string): number => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer ≥ ${min}`);
    return n;
  };

const daemonList = (s: string): string[] => {
  const list = s
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d !== '');
  if (list.length === 0 || list.some((d) => !/^[a-z0-9]+$/.test(d))) {
    throw new InvalidArgumentError('expected a comma-separated list of FRR daemon names');
  }
  return list;
};

const logLevel = (s: string): LogLevel => {
  if (!isLogLevel(s)) throw new InvalidArgumentError('expected debug, info, warn or error');
  return s;
};

function targetOf(o: ReloaderFlags): FrrTarget {
  const explicit = o.vtySocket !== undefined || o.confdir !== undefined;
  if (o.pathspace !== undefined && explicit) {
    throw new Error('use either --pathspace or --vty-socket/--confdir, not both');
  }
  if (explicit && (o.vtySocket === undefined || o.confdir === undefined)) {
    throw new Error('--vty-socket and --confdir go together');
  }
  return {
    ...(o.pathspace !== undefined ? { pathspace: o.pathspace } : {}),
    ...(o.vtySocket !== undefined ? { vtySocket: o.vtySocket } : {}),
    ...(o.confdir !== undefined ? { confDir: o.confdir } : {}),
    ...(o.rundir !== undefined ? { runDir: o.rundir } : {}),
    ...(o.pidDir !== undefined ? { pidDir: o.pidDir } : {}),
    ...(o.netns !== undefined ? { netns: o.netns } : {}),
  };
}

export function registerReloaderCommand(program: Command): Command {
  return program
    .command('reloader')
    .description(
      'apply the FRR configs pushed over a unix socket (frr-reload.py --test, --reload, verify), keep the ' +
        'last good one and re-apply it when FRR restarts, answer /healthz and /readyz',
    )
    .option('--socket <path>', 'unix socket to listen on (created 0600)', DEFAULT_SOCKET)
    .option('--state-file <path>', 'where the last good FRR config is kept', DEFAULT_STATE_FILE)
    .option('--pathspace <name>', 'FRR pathspace (-N) of the instance')
    .option('--vty-socket <dir>', "directory of the daemons' vty sockets (with --confdir)")
    .option('--confdir <dir>', 'FRR config directory (with --vty-socket)')
    .option('--rundir <dir>', 'scratch directory for frr-reload.py')
    .option(
      '--pid-dir <dir>',
      "directory of the daemons' pid files (default: from the pathspace or --vty-socket)",
    )
    .option('--netns <name>', 'run vtysh and frr-reload.py through `ip netns exec <name>`')
    .addOption(
      new Option('--daemons <list>', 'daemons that must run (readiness, restart watch)')
        .argParser(daemonList)
        .default([...DEFAULT_DAEMONS], DEFAULT_DAEMONS.join(',')),
    )
    .option(
      '--restart-check-interval <ms>',
      'how often to look for FRR restarts (0: only at start)',
      positiveInt(0),
      2000,
    )
    .option('--vtysh-timeout <ms>', 'timeout of each vtysh call', positiveInt(1), 10_000)
    .option('--reload-timeout <ms>', 'timeout of each frr-reload.py run', positiveInt(1), 600_000)
    .addOption(
      new Option('--max-body <bytes>', 'largest accepted config')
        .argParser(positiveInt(1))
        .default(DEFAULT_MAX_BODY),
    )
    .option(
      '--fast-path-max-lines <n>',
      'apply changes up to this many lines through one vtysh run, verified against the running config (0: always frr-reload.py)',
      positiveInt(0),
      400,
    )
    .option('--log-level <level>', 'debug|info|warn|error', logLevel, 'info' as LogLevel)
    .action(async (o: ReloaderFlags) => {
      const logger = jsonLogger({ level: o.logLevel, component: 'reloader' });
      const server = await startReloaderServer({
        socketPath: o.socket,
        stateFile: o.stateFile,
        target: targetOf(o),
        daemons: o.daemons,
        restartCheckIntervalMs: o.restartCheckInterval,
        vtyshTimeoutMs: o.vtyshTimeout,
        testTimeoutMs: Math.min(o.reloadTimeout, 120_000),
        reloadTimeoutMs: o.reloadTimeout,
        maxBodyBytes: o.maxBody,
        fastPathMaxLines: o.fastPathMaxLines,
        logger,
      });
      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (signal: NodeJS.Signals): void => {
          if (stopping) return;
          stopping = true;
          logger.info({ event: 'signal', signal }, 'stopping');
          server.close().then(resolve, (e: unknown) => {
            logger.error({ event: 'shutdown-error', err: String(e) }, 'shutdown failed');
            resolve();
          });
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
    });
}
