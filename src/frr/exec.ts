// Running FRR's own tools (frr-reload.py, vtysh) as child processes: no shell, a timeout that kills
// the whole process group (frr-reload.py spawns vtysh children), bounded output.
import { spawn } from 'node:child_process';

export interface RunResult {
  /** Exit code; null when the process was killed by a signal or could not be started. */
  code: number | null;
  stdout: string;
  stderr: string;
  /** True when the timeout fired and the process group was killed. */
  timedOut: boolean;
  /** Spawn error (e.g. ENOENT), when the program could not be started. */
  error?: string;
  durationMs: number;
}

export interface RunOptions {
  timeoutMs: number;
}

/** Runs one program; never rejects (failures are in the result). Injectable for tests. */
export type CommandRunner = (file: string, args: readonly string[], opts: RunOptions) => Promise<RunResult>;

const MAX_OUTPUT = 32 * 1024 * 1024;

export const runCommand: CommandRunner = (file, args, opts) =>
  new Promise((resolve) => {
    const started = performance.now();
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    let timedOut = false;
    let spawnError: string | undefined;
    let settled = false;
    const child = spawn(file, [...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const killGroup = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        try {
          child.kill('SIGKILL');
        } catch {
          // already gone
        }
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, opts.timeoutMs);
    child.stdout.on('data', (b: Buffer) => {
      if (outLen < MAX_OUTPUT) out.push(b);
      outLen += b.length;
    });
    child.stderr.on('data', (b: Buffer) => {
      if (errLen < MAX_OUTPUT) err.push(b);
      errLen += b.length;
    });
    const finish = (code: number | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        ...(spawnError !== undefined ? { error: spawnError } : {}),
        durationMs: Math.round(performance.now() - started),
      });
    };
    child.on('error', (e) => {
      spawnError = e.message;
      finish(null);
    });
    child.on('close', (code) => finish(code));
  });

/** Describes a failed run in one line (for error messages). */
export function describeFailure(file: string, r: RunResult, timeoutMs: number): string {
  if (r.error !== undefined) return `${file}: ${r.error}`;
  if (r.timedOut) return `${file} timed out after ${timeoutMs} ms`;
  return `${file} exited ${r.code ?? 'on a signal'}`;
}
