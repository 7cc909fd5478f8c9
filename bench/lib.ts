// Small helpers shared by the benchmark scripts.
import { spawn } from 'node:child_process';

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export const round = (x: number, digits = 1): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

export interface Proc {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a program (no shell), optionally feeding stdin; never rejects for a non-zero exit. */
export function run(cmd: string, args: readonly string[], input?: string): Promise<Proc> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        code: code ?? 1,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ms: performance.now() - t0,
      }),
    );
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}

export async function runOk(cmd: string, args: readonly string[], input?: string): Promise<Proc> {
  const r = await run(cmd, args, input);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr || r.stdout}`);
  return r;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Prints one result line of a benchmark script (its caller keeps the lines that start with `{`). */
export function emit(o: unknown): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}

/**
 * Runs a benchmark script whose input is JSON on stdin: a failure is printed as an `error` line (with
 * its stack) and makes the exit status 1.
 */
export function runScript<Input>(main: (input: Input) => Promise<void>): void {
  const go = async (): Promise<void> => {
    let text = '';
    for await (const c of process.stdin) text += c;
    await main(JSON.parse(text) as Input);
  };
  go().catch((e: unknown) => {
    emit({ section: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    process.exitCode = 1;
  });
}
