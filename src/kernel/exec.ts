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

/**
 * Runs `cmd args`, feeding `input` on stdin; never rejects for a non-zero exit (only when it cannot
 * start). `onStdout`: standard output goes there as it arrives (and `stdout` of the result is empty),
 * for outputs too large to hold whole; it must not throw.
 */
export function runProcess(
  cmd: string,
  args: readonly string[],
  input?: string,
  onStdout?: (chunk: string) => void,
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    // Decoded as it arrives: text held once, rather than as chunks, their concatenation and the text.
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    const out: string[] = [];
    const err: string[] = [];
    child.stdout.on('data', onStdout ?? ((s: string) => out.push(s)));
    child.stderr.on('data', (s: string) => err.push(s));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({
        code: code ?? (signal === null ? 1 : 128),
        stdout: out.join(''),
        stderr: err.join(''),
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
