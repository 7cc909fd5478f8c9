// FRR's own reload tool, frr-reload.py, driven safely:
//   write the candidate to a temp file
//   → `--test`  (vtysh parses the candidate: a syntax error is reported and nothing is applied)
//   → `--reload` (frr-reload.py diffs against `show running-config` and applies the delta)
//   → `--test` again: frr-reload.py 8.4 can misapply a config and still exit 0 (a `vrf` stanza sent
//     while vtysh is in the BGP node becomes `vrf-policy`, see docs/dev/frr-spelling.md), so its exit
//     code is not trusted: if changes remain, `--reload` once more, and if changes still remain the
//     apply fails with the remaining lines.
// Every step is timed; FRR's own error text is returned on failure.
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { type CommandRunner, describeFailure, type RunResult, runCommand } from './exec.js';
import { checkTarget, FRR_RELOAD, type FrrTarget, frrReloadTargetArgs, wrapCommand } from './target.js';

export interface PendingChanges {
  /** Commands frr-reload.py would add, each with its contexts joined by " > ". */
  toAdd: string[];
  /** Commands frr-reload.py would run to delete lines (spelled as run, usually `no …`), with contexts. */
  toDelete: string[];
}

export interface FrrReloadOptions {
  target: FrrTarget;
  /** Runs the child processes. Default: runCommand (injectable to observe or fake FRR). */
  runner?: CommandRunner;
  /** Path of frr-reload.py. Default /usr/lib/frr/frr-reload.py. */
  scriptPath?: string;
  /** Timeout of one `--test`. Default 120 s. */
  testTimeoutMs?: number;
  /** Timeout of one `--reload`. Default 600 s (a first reload of 500 VRFs takes ~6 s on a host kernel). */
  reloadTimeoutMs?: number;
  /** Directory for candidate files. Default os.tmpdir(). */
  tmpDir?: string;
}

export interface TestResult {
  /** frr-reload.py --test exited 0. */
  ok: boolean;
  /** The candidate was rejected by vtysh's parser (a syntax error): final, nothing was applied. */
  rejected: boolean;
  timedOut: boolean;
  changes: PendingChanges;
  /** FRR's own error text when !ok. */
  message: string;
  /** Full output (stdout then stderr), colour codes removed. */
  output: string;
  durationMs: number;
}

export interface ReloadResult {
  ok: boolean;
  timedOut: boolean;
  /** How it failed (`frr-reload.py --reload exited 1`), when !ok. */
  failure: string;
  /** What FRR said, one line each (see frrErrorText), when !ok. */
  errors: string[];
  /** failure + errors, when !ok. */
  message: string;
  output: string;
  durationMs: number;
}

/** Milliseconds per step of one apply. */
export interface ApplyTimings {
  writeMs: number;
  testMs: number;
  reloadMs?: number;
  verifyMs?: number;
  /** Second pass, only when the first --reload left changes behind. */
  reload2Ms?: number;
  verify2Ms?: number;
  /** The vtysh fast path (fast-path.ts), when it was tried: its own total, before any fallback. */
  fastMs?: number;
  totalMs: number;
}

/** What the vtysh fast path (fast-path.ts) did in an apply, when it was tried. */
export interface FastPathReport {
  /** True when the fast path applied the change (no frr-reload.py run). */
  used: boolean;
  /** Why it was not used or failed (then frr-reload.py applied the config). */
  reason?: string;
  message?: string;
  /** vtysh commands sent. */
  commands?: number;
  /** Milliseconds: reading the running config (0 when known), the one vtysh run, the whole try. */
  readMs: number;
  /** `vtysh -C` syntax check of the commands. */
  checkMs: number;
  applyMs: number;
  totalMs: number;
}

export type ApplyFailureReason =
  /** The candidate has a syntax error (`--test` rejected it): nothing was applied. */
  | 'rejected'
  /** `--test` failed for another reason (FRR down, frr-reload.py crashed): nothing was applied. */
  | 'test-failed'
  /** `--reload` failed and changes remain (FRR may be partially configured). */
  | 'reload-failed'
  /** Every `--reload` exited 0 but `--test` still reports changes after the second pass. */
  | 'not-converged'
  /** A step exceeded its timeout (the process group was killed). */
  | 'timeout';

export type ApplyResult =
  | {
      ok: true;
      /** Number of `--reload` runs: 0 when FRR already ran this config. */
      reloads: 0 | 1 | 2;
      /** What the first `--test` found to change. */
      changes: PendingChanges;
      /** FRR errors of a `--reload` that exited non-zero although the final `--test` is clean. */
      warnings: string[];
      timings: ApplyTimings;
      /** `fast`: applied through vtysh (fast-path.ts); `full`: through frr-reload.py. */
      path?: 'fast' | 'full';
      fastPath?: FastPathReport;
    }
  | {
      ok: false;
      reason: ApplyFailureReason;
      /** FRR's own words. */
      message: string;
      /** Changes still pending at the end (after reloads). */
      remaining?: PendingChanges;
      reloads: 0 | 1 | 2;
      timings: ApplyTimings;
      fastPath?: FastPathReport;
    };

/**
 * Parses the output of `frr-reload.py --test`: after "Lines To Delete" / "Lines To Add" (each
 * followed by a "====" line) every command is printed as its contexts, one per line with one more
 * space of indentation per level, then the command; a new command starts at an unindented line.
 */
export function parseReloadTest(stdout: string): PendingChanges {
  const toAdd: string[] = [];
  const toDelete: string[] = [];
  let section: string[] | undefined;
  let current: string[] = [];
  const flush = (): void => {
    if (section !== undefined && current.length > 0) section.push(current.join(' > '));
    current = [];
  };
  for (const rawLine of stdout.split('\n')) {
    const line = rawLine.trimEnd();
    if (line === 'Lines To Delete' || line === 'Lines To Add') {
      flush();
      section = line === 'Lines To Delete' ? toDelete : toAdd;
      continue;
    }
    if (section === undefined || line === '' || /^=+$/.test(line)) continue;
    if (!/^\s/.test(line)) flush();
    current.push(line.trim());
  }
  flush();
  // A bare context line ("router bgp 64514") is printed before the commands inside it; it is not a
  // change of its own when a command inside the same context follows.
  const prune = (list: string[]): string[] =>
    list.filter((c) => c.includes(' > ') || !list.some((o) => o.startsWith(`${c} > `)));
  return { toAdd: prune(toAdd), toDelete: prune(toDelete) };
}

export function hasChanges(c: PendingChanges): boolean {
  return c.toAdd.length > 0 || c.toDelete.length > 0;
}

/** Decodes a Python bytes/str literal body (as printed by repr): \n, \t, \\, \', \", \xHH. */
function decodePythonLiteral(body: string): string {
  return body.replace(/\\(x[0-9a-fA-F]{2}|.)/g, (_m, e: string) => {
    if (e.startsWith('x') && e.length === 3) return String.fromCharCode(Number.parseInt(e.slice(1), 16));
    switch (e) {
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case 'r':
        return '\r';
      default:
        return e;
    }
  });
}

const LOG_PREFIX = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+\s+(\w+):\s?/;

/**
 * When vtysh's parser rejected the candidate, frr-reload.py logs
 * `vtysh failed to process new configuration: vtysh (mark file) exited with status 2:` followed by
 * vtysh's stderr as a Python bytes literal (`b'line 6: % Unknown command: ...\n'`). Returns vtysh's
 * own text, or undefined when the output carries no such rejection.
 */
export function parserRejection(output: string): string | undefined {
  const i = output.indexOf('vtysh failed to process new configuration');
  if (i < 0) return undefined;
  const rest = output.slice(i);
  const lit = /\nb?(['"])(.*)\1\s*$/m.exec(rest);
  const text = lit?.[2] !== undefined ? decodePythonLiteral(lit[2]) : '';
  const lines = text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== '');
  if (lines.length > 0) return lines.join('\n');
  return (rest.split('\n')[0] ?? '').trim();
}

/**
 * The lines of frr-reload.py / vtysh output that say what went wrong (its INFO chatter and the
 * candidate dumps left out), timestamps removed, duplicates collapsed.
 */
export function frrErrorText(stdout: string, stderr: string): string {
  const picked: string[] = [];
  const push = (l: string): void => {
    const s = l.replace(LOG_PREFIX, (_m, level: string) => (level === 'INFO' ? '' : `${level}: `)).trim();
    // "frr-reload.py failed due to" only introduces the next line (vtysh's exit status).
    if (s === '' || /frr-reload\.py failed due to$/.test(s) || picked.includes(s)) return;
    picked.push(s);
  };
  // With --stdout, frr-reload.py logs to stderr; what vtysh printed while applying is on stdout.
  for (const l of stdout.split('\n')) {
    if (/^Lines To (Add|Delete)$/.test(l.trim()) || /^=+$/.test(l.trim())) break;
    if (l.trim() !== '') push(l);
  }
  const lines = stderr.split('\n');
  for (const l of lines) {
    const m = LOG_PREFIX.exec(l);
    const level = m?.[1];
    if (level === 'INFO' || level === 'DEBUG') continue;
    if (
      m !== null ||
      /^line \d+:/.test(l) ||
      /^%/.test(l.trim()) ||
      /exited with status/.test(l) ||
      /^\w*(Exception|Error):/.test(l) ||
      /^Exiting:/.test(l)
    ) {
      push(l);
    }
  }
  if (picked.length > 0) return picked.join('\n');
  return lines
    .filter((l) => l.trim() !== '' && LOG_PREFIX.exec(l)?.[1] !== 'INFO')
    .slice(-20)
    .join('\n');
}

function clean(r: RunResult): { stdout: string; stderr: string } {
  return { stdout: stripVTControlCharacters(r.stdout), stderr: stripVTControlCharacters(r.stderr) };
}

export class FrrReload {
  readonly target: FrrTarget;
  private readonly runner: CommandRunner;
  private readonly script: string;
  private readonly testTimeoutMs: number;
  private readonly reloadTimeoutMs: number;
  private readonly tmpDir: string;

  constructor(opts: FrrReloadOptions) {
    checkTarget(opts.target);
    this.target = opts.target;
    this.runner = opts.runner ?? runCommand;
    this.script = opts.scriptPath ?? FRR_RELOAD;
    this.testTimeoutMs = opts.testTimeoutMs ?? 120_000;
    this.reloadTimeoutMs = opts.reloadTimeoutMs ?? 600_000;
    this.tmpDir = opts.tmpDir ?? tmpdir();
  }

  private run(mode: '--test' | '--reload', file: string): Promise<RunResult> {
    const timeoutMs = mode === '--test' ? this.testTimeoutMs : this.reloadTimeoutMs;
    const [cmd, args] = wrapCommand(this.target, this.script, [
      ...frrReloadTargetArgs(this.target),
      '--stdout',
      mode,
      file,
    ]);
    return this.runner(cmd, args, { timeoutMs });
  }

  /** `frr-reload.py --test` of a candidate file, parsed. */
  async testFile(file: string): Promise<TestResult> {
    const r = await this.run('--test', file);
    const { stdout, stderr } = clean(r);
    const output = stdout + stderr;
    const base = { timedOut: r.timedOut, output, durationMs: r.durationMs };
    // A parser rejection makes --test exit 1 but it still prints a (meaningless) diff: look first.
    const rejection = parserRejection(stderr);
    if (rejection !== undefined) {
      return { ...base, ok: false, rejected: true, changes: { toAdd: [], toDelete: [] }, message: rejection };
    }
    if (r.code !== 0) {
      const why = describeFailure('frr-reload.py --test', r, this.testTimeoutMs);
      const said = frrErrorText(stdout, stderr);
      return {
        ...base,
        ok: false,
        rejected: false,
        changes: { toAdd: [], toDelete: [] },
        message: said ? `${why}: ${said}` : why,
      };
    }
    return { ...base, ok: true, rejected: false, changes: parseReloadTest(stdout), message: '' };
  }

  /** `frr-reload.py --reload` of a candidate file. */
  async reloadFile(file: string): Promise<ReloadResult> {
    const r = await this.run('--reload', file);
    const { stdout, stderr } = clean(r);
    const ok = r.code === 0 && !r.timedOut;
    const failure = ok ? '' : describeFailure('frr-reload.py --reload', r, this.reloadTimeoutMs);
    const said = ok ? '' : frrErrorText(stdout, stderr);
    const errors = said === '' ? [] : said.split('\n');
    const message = ok ? '' : said ? `${failure}:\n${said}` : failure;
    return {
      ok,
      timedOut: r.timedOut,
      failure,
      errors,
      message,
      output: stdout + stderr,
      durationMs: r.durationMs,
    };
  }

  /** Writes the text to a private temp file, runs fn on it, removes it. */
  async withCandidate<T>(text: string, fn: (file: string) => Promise<T>): Promise<T> {
    const file = join(this.tmpDir, `openperouter-frr-${process.pid}-${randomBytes(6).toString('hex')}.conf`);
    await writeFile(file, text.endsWith('\n') ? text : `${text}\n`, { mode: 0o600, flag: 'wx' });
    try {
      return await fn(file);
    } finally {
      await rm(file, { force: true });
    }
  }

  test(text: string): Promise<TestResult> {
    return this.withCandidate(text, (f) => this.testFile(f));
  }

  /** The whole procedure (see the file header). Never rejects for FRR failures: see ApplyResult. */
  async apply(text: string): Promise<ApplyResult> {
    const t0 = performance.now();
    const timings: ApplyTimings = { writeMs: 0, testMs: 0, totalMs: 0 };
    const done = (): ApplyTimings => {
      timings.totalMs = Math.round(performance.now() - t0);
      return timings;
    };
    return this.withCandidate(text, async (file) => {
      timings.writeMs = Math.round(performance.now() - t0);
      const first = await this.testFile(file);
      timings.testMs = first.durationMs;
      if (!first.ok) {
        return {
          ok: false,
          reason: first.rejected ? 'rejected' : first.timedOut ? 'timeout' : 'test-failed',
          message: first.message,
          reloads: 0,
          timings: done(),
        };
      }
      if (!hasChanges(first.changes)) {
        return { ok: true, reloads: 0, changes: first.changes, warnings: [], timings: done() };
      }
      // Failed reloads, and what FRR said (each line once, across both passes).
      const failures: string[] = [];
      const said: string[] = [];
      const warnings = (): string[] =>
        failures.length === 0 ? [] : [`${failures.join('; ')}, yet FRR now runs the config`, ...said];
      let pending: PendingChanges = first.changes;
      for (const pass of [1, 2] as const) {
        const r = await this.reloadFile(file);
        if (pass === 1) timings.reloadMs = r.durationMs;
        else timings.reload2Ms = r.durationMs;
        if (r.timedOut) {
          return { ok: false, reason: 'timeout', message: r.message, reloads: pass, timings: done() };
        }
        if (!r.ok) {
          failures.push(`${r.failure} (pass ${pass})`);
          for (const l of r.errors) if (!said.includes(l)) said.push(l);
        }
        const v = await this.testFile(file);
        if (pass === 1) timings.verifyMs = v.durationMs;
        else timings.verify2Ms = v.durationMs;
        if (!v.ok) {
          const message = [...failures, ...said, `verification failed: ${v.message}`].join('\n');
          return {
            ok: false,
            reason: v.timedOut ? 'timeout' : 'reload-failed',
            message,
            reloads: pass,
            timings: done(),
          };
        }
        pending = v.changes;
        if (!hasChanges(pending)) {
          return { ok: true, reloads: pass, changes: first.changes, warnings: warnings(), timings: done() };
        }
      }
      const remaining = [
        ...pending.toDelete.map((l) => `- ${l}`),
        ...pending.toAdd.map((l) => `+ ${l}`),
      ].join('\n');
      return {
        ok: false,
        reason: failures.length > 0 ? 'reload-failed' : 'not-converged',
        message: [
          ...(failures.length > 0 ? [`${failures.join('; ')}:`, ...said] : []),
          `FRR still differs from the candidate after 2 reloads (a line FRR prints differently or rejects):\n${remaining}`,
        ].join('\n'),
        remaining: pending,
        reloads: 2,
        timings: done(),
      };
    });
  }
}
