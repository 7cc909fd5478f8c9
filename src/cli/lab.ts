// `openperouter lab up|status|exec|down`: the one-machine EVPN lab (lab/lab.ts) from the command line.
//
// The lab runs inside a user-mode Linux guest that lives exactly as long as the process that booted it
// (its control line is a pipe of that process). So `lab up` boots, waits, verifies and tears down;
// `lab up --keep` stays in the foreground after that and serves the other subcommands over a unix
// socket in the state directory, until `lab down`, Ctrl-C or SIGTERM.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { formatChecks, summarizeFailing } from '../../lab/checks.js';
import { type Lab, type LabProgress, type LabStatus, labUnavailableReason, labUp } from '../../lab/lab.js';

const DEFAULT_STATE_DIR = '/run/openperouter-lab';
const SOCKET = 'lab.sock';

interface CommonFlags {
  stateDir: string;
}

interface UpFlags extends CommonFlags {
  keep?: boolean;
  timeout: number;
  mem?: number;
  mode: 'static' | 'kubernetes';
  json?: boolean;
}

const positive = (s: string): number => {
  const n = Number(s);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
};

function fmtS(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

const useColor = (): boolean => process.stdout.isTTY === true && !process.argv.includes('--no-color');

/** Talks to the process serving a kept lab. */
function call(
  stateDir: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  timeoutMs = 180_000,
): Promise<{ status: number; body: string }> {
  const socketPath = join(stateDir, SOCKET);
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        socketPath,
        method,
        path,
        timeout: timeoutMs,
        headers:
          data === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from the lab within ${timeoutMs} ms`)));
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') {
        reject(
          new Error(
            `no lab is running with state directory ${stateDir} (start one with: openperouter lab up --keep)`,
          ),
        );
      } else reject(e);
    });
    req.end(data);
  });
}

function processAlive(pid: number): boolean {
  try {
    return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function labAlive(stateDir: string): Promise<boolean> {
  if (!existsSync(join(stateDir, SOCKET))) return false;
  try {
    await call(stateDir, 'GET', '/healthz', undefined, 5000);
    return true;
  } catch {
    return false;
  }
}

function printStatus(st: LabStatus, lab?: { timings?: Record<string, number> }): void {
  process.stdout.write(`${formatChecks(st.checks, { color: useColor() })}\n`);
  const counted = st.checks.filter((c) => c.advisory !== true || c.ok);
  const failing = counted.filter((c) => !c.ok);
  const advisories = st.checks.length - counted.length;
  process.stdout.write(
    `\n${st.ok ? 'converged:' : 'NOT converged:'} ${counted.length - failing.length} of ${counted.length} checks pass` +
      `${advisories > 0 ? `, ${advisories} advisory finding(s) (!) not counted` : ''} (gathered in ${fmtS(st.ms)})\n`,
  );
  if (lab?.timings !== undefined) {
    const t = lab.timings;
    process.stdout.write(
      `timings: boot ${fmtS(t['bootMs'] ?? 0)}, topology ${fmtS(t['topologyMs'] ?? 0)}, FRR ${fmtS(t['frrMs'] ?? 0)}, ` +
        `agents started ${fmtS(t['agentsMs'] ?? 0)}, speakers ${fmtS(t['speakersMs'] ?? 0)}, agents to converged ${fmtS(t['convergeMs'] ?? 0)}, total ${fmtS(t['totalMs'] ?? 0)}\n`,
    );
  }
}

function progressPrinter(json: boolean): (p: LabProgress) => void {
  let last = '';
  let lastAt = 0;
  return (p) => {
    if (json) return;
    const msg =
      p.stage === 'waiting' && p.failing ? `waiting for ${summarizeFailing(p.failing, 1)}` : p.message;
    const line = msg.length > 220 ? `${msg.slice(0, 217)}...` : msg;
    // While waiting, repeat a line only every 15 s.
    if (p.stage === 'waiting' && line === last && p.elapsedMs - lastAt < 15_000) return;
    last = line;
    lastAt = p.elapsedMs;
    process.stdout.write(`[${(p.elapsedMs / 1000).toFixed(1).padStart(6)} s] ${line}\n`);
  };
}

/** Serves status, exec and down for a kept lab; resolves when the lab should go down. */
function serve(lab: Lab, stateDir: string): Promise<{ server: Server; done: Promise<string> }> {
  let finish: (why: string) => void = () => {};
  const done = new Promise<string>((resolve) => {
    finish = resolve;
  });
  const server = createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        try {
          if (req.method === 'GET' && req.url === '/healthz')
            return reply(200, { ok: true, pid: process.pid });
          if (req.method === 'GET' && req.url === '/status') {
            const st = await lab.status();
            return reply(200, { status: st, timings: lab.timings });
          }
          if (req.method === 'POST' && req.url === '/exec') {
            const b = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
              ns?: string | null;
              cmd?: string;
              timeoutMs?: number;
            };
            if (typeof b.cmd !== 'string') return reply(400, { error: 'cmd missing' });
            const r = await lab.exec(b.ns ?? null, b.cmd, { timeoutMs: b.timeoutMs ?? 120_000 });
            return reply(200, r);
          }
          if (req.method === 'POST' && req.url === '/down') {
            reply(200, { ok: true });
            finish('lab down');
            return;
          }
          reply(404, { error: `no ${req.method} ${req.url}` });
        } catch (e) {
          reply(500, { error: e instanceof Error ? e.message : String(e) });
        }
      })();
    });
  });
  const socketPath = join(stateDir, SOCKET);
  rmSync(socketPath, { force: true });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve({ server, done }));
  });
}

async function up(o: UpFlags): Promise<void> {
  const why = labUnavailableReason();
  if (why !== undefined) throw new Error(`cannot run the lab: ${why}`);
  mkdirSync(o.stateDir, { recursive: true });
  if (await labAlive(o.stateDir)) {
    throw new Error(
      `a lab is already running with state directory ${o.stateDir} (openperouter lab down first)`,
    );
  }
  rmSync(join(o.stateDir, SOCKET), { force: true });
  writeFileSync(join(o.stateDir, 'lab.pid'), `${process.pid}\n`);
  const json = o.json === true;
  if (!json) process.stdout.write(`openperouter lab: state and logs in ${o.stateDir}\n`);
  const lab = await labUp({
    stateDir: o.stateDir,
    removeStateDir: false,
    ...(o.mem !== undefined ? { memMB: o.mem } : {}),
    mode: o.mode,
    convergeTimeoutMs: o.timeout * 1000,
    onProgress: progressPrinter(json),
  });
  let stopping: Promise<void> | undefined;
  const teardown = (why: string): Promise<void> => {
    stopping ??= (async () => {
      if (!json) process.stdout.write(`${why}: tearing the lab down\n`);
      await lab.down();
      rmSync(join(o.stateDir, SOCKET), { force: true });
      rmSync(join(o.stateDir, 'lab.pid'), { force: true });
    })();
    return stopping;
  };
  process.once('SIGINT', () => void teardown('interrupted').then(() => process.exit(130)));
  process.once('SIGTERM', () => void teardown('terminated').then(() => process.exit(143)));
  try {
    const st = lab.lastStatus ?? (await lab.status());
    const mem = await lab.memory().catch(() => undefined);
    if (json) {
      process.stdout.write(
        `${JSON.stringify({ converged: lab.converged, timings: lab.timings, memory: mem, status: st })}\n`,
      );
    } else {
      process.stdout.write('\n');
      printStatus(st, { timings: { ...lab.timings } });
      if (mem !== undefined) {
        const top = Object.entries(mem.byProgram)
          .filter(([, mb]) => mb >= 5)
          .sort((a, b) => b[1] - a[1])
          .map(([p, mb]) => `${p} ${mb}`)
          .join(', ');
        process.stdout.write(
          `memory: linux.uml ${mem.hostMainMB} MiB resident on the host; guest uses ${mem.guestUsedMB} of ${mem.guestTotalMB} MiB (${top} MiB)\n`,
        );
      }
    }
    process.exitCode = lab.converged ? 0 : 1;
    if (!o.keep) {
      await teardown('done');
      return;
    }
    const { server, done } = await serve(lab, o.stateDir);
    if (!json) {
      process.stdout.write(
        `\nThe lab stays up while this command runs. From another terminal:\n` +
          `  openperouter lab status                      # the verification table again\n` +
          `  openperouter lab exec node-a -- ip route      # a command in a lab namespace ("guest" = the guest's own)\n` +
          `  openperouter lab exec guest -- vtysh -N node-a-pe -c 'show bgp vrf all summary'\n` +
          `  openperouter lab down                        # or Ctrl-C here\n` +
          `Logs: ${join(o.stateDir, 'guest')}/<node>/{agent,reloader}.log; manifests the agents watch: /tmp/lab/<node>/config in the guest\n`,
      );
    }
    const why2 = await done;
    server.close();
    await teardown(why2);
  } catch (e) {
    await teardown('error');
    throw e;
  }
}

export function registerLabCommand(program: Command): void {
  const lab = program
    .command('lab')
    .description(
      'the one-machine EVPN lab: a leaf, external hosts and two nodes running this agent, inside one user-mode Linux guest (root)',
    );
  const stateDirOption = (c: Command) =>
    c.option('--state-dir <dir>', 'where the lab keeps its socket, logs and status files', DEFAULT_STATE_DIR);

  stateDirOption(
    lab
      .command('up')
      .description(
        'boot the lab, wait until it converged, print the verification table, tear it down (unless --keep)',
      )
      .option('--keep', 'stay up after the verification, serving status/exec/down, until lab down or Ctrl-C')
      .option('--timeout <s>', 'give up waiting for convergence after this long', positive, 300)
      .option('--mem <MiB>', 'guest memory (default: 1024, 1536 with --mode kubernetes)', positive)
      .addOption(
        new Option(
          '--mode <mode>',
          'static: each node runs `openperouter static` on its manifest directory; kubernetes: an API server stand-in holds the objects, the nodemarker and a controller per node run against it',
        )
          .choices(['static', 'kubernetes'])
          .default('static'),
      )
      .option('--json', 'print the result as one JSON object'),
  ).action(async (o: UpFlags) => up(o));

  stateDirOption(
    lab
      .command('status')
      .description('the verification table of the running lab')
      .option('--json', 'as JSON'),
  ).action(async (o: CommonFlags & { json?: boolean }) => {
    const r = await call(o.stateDir, 'GET', '/status');
    if (r.status !== 200) throw new Error(`lab status: ${r.body}`);
    const body = JSON.parse(r.body) as { status: LabStatus; timings: Record<string, number> };
    if (o.json) process.stdout.write(`${r.body}\n`);
    else printStatus(body.status);
    process.exitCode = body.status.ok ? 0 : 1;
  });

  stateDirOption(
    lab
      .command('exec')
      .description(
        'run a command in a lab namespace (leaf, hostA-red, node-a, node-a-pe, node-a-wl…; "guest" = the guest itself)',
      )
      .argument('<netns>')
      .argument('<command...>'),
  ).action(async (netns: string, command: string[], o: CommonFlags) => {
    const r = await call(o.stateDir, 'POST', '/exec', {
      ns: netns === 'guest' ? null : netns,
      cmd: command.join(' '),
    });
    if (r.status !== 200) throw new Error(`lab exec: ${r.body}`);
    const res = JSON.parse(r.body) as { exitCode: number; stdout: string; stderr: string };
    process.stdout.write(res.stdout);
    process.stderr.write(res.stderr);
    process.exitCode = res.exitCode;
  });

  stateDirOption(lab.command('down').description('tear the running lab down')).action(
    async (o: CommonFlags) => {
      let pid = '';
      try {
        pid = readFileSync(join(o.stateDir, 'lab.pid'), 'utf8').trim();
      } catch {
        // no pid file
      }
      await call(o.stateDir, 'POST', '/down');
      // Wait for the serving process to finish its teardown (it exits then).
      const alive = () => pid !== '' && processAlive(Number(pid));
      for (let i = 0; i < 600 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
      process.stdout.write(
        alive()
          ? `lab still shutting down (process ${pid})\n`
          : `lab down${pid ? ` (process ${pid} ended)` : ''}\n`,
      );
    },
  );
}
