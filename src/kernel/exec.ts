// Child processes for the kernel layer. The Node process never enters another network namespace
// itself (setns is per thread); every read and write is an `ip` (or `ip netns exec`) child process.
import { spawn } from 'node:child_process';

export interface ProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** How many processes a reconcile spawned, by purpose. */
export interface ProcessCounts {
  readers: number;
  writers: number;
}

export function newProcessCounts(): ProcessCounts {
  return { readers: 0, writers: 0 };
}

/** Runs `cmd args`, feeding `input` on stdin; never rejects for a non-zero exit (only when it cannot start). */
export function runProcess(cmd: string, args: readonly string[], input?: string): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({
        code: code ?? (signal === null ? 1 : 128),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    // A process that exits before reading its stdin makes the write fail with EPIPE: not our error.
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}

/** `ip` arguments selecting a namespace: `-n NS`, or nothing for the process's own namespace. */
export function ipNamespaceArgs(namespace: string | undefined): string[] {
  return namespace === undefined ? [] : ['-n', namespace];
}
