// The reloader's fast path for small changes. frr-reload.py re-reads and re-parses the whole running
// config on every call (≈ 1 s at 500 VRFs even for a one-VRF change); when the reloader knows what FRR
// runs (the last config it applied, and FRR's running config read right after), a small change can be
// sent as exactly the commands that differ:
//
//   1. parse the previous and the new candidate into contexts (`router bgp 64514 vrf red` >
//      `address-family ipv4 unicast`) holding sets of lines — the way frr-reload.py compares them; our
//      renderer prints FRR's own spelling (docs/dev/frr-spelling.md), so a set difference is the change;
//   2. give up (→ the full frr-reload.py path) when the change is large, touches the global lines, or
//      when what it removes is not in FRR's running config as last read (FRR drifted);
//   3. run ONE vtysh process: every change is entered from `configure terminal` through its full
//      context path (never relying on vtysh walking up nodes, which is how frr-reload.py 8.4 turns
//      `vrf X` into `vrf-policy X`), removals first (`no …`, deepest and last stanzas first), then
//      additions in the candidate's order, then `show running-config`; vtysh stops at the first
//      command that fails;
//   4. verify: the running config printed afterwards must equal the one read before with exactly this
//      change applied (per context, as sets of lines). Anything else — a command FRR refused, a line
//      FRR prints differently, an implicit line appearing or vanishing — is a failure, and the caller
//      falls back to the full frr-reload.py path, which converges FRR from whatever state it is in.
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { type CommandRunner, describeFailure, runCommand } from './exec.js';
import type { PendingChanges } from './frr-reload.js';
import { checkTarget, type FrrTarget, VTYSH, vtyshTargetArgs, wrapCommand } from './target.js';

// ---------------------------------------------------------------------------------------------------
// configuration trees

/** One context (stanza) of an FRR config: its path of context lines and the set of its own lines. */
export interface FrrContext {
  /** Context lines from the top, e.g. ["router bgp 64514 vrf red", "address-family ipv4 unicast"]; [] = global. */
  readonly path: readonly string[];
  /** Its own lines, in first-seen order (a Set keeps each once). */
  readonly lines: Set<string>;
}

/** A parsed config: contexts by key (path joined by "\n"), in first-seen order. */
export type FrrTree = Map<string, FrrContext>;

export const keyOf = (path: readonly string[]): string => path.join('\n');

const CLOSERS = new Set(['exit', 'exit-vrf', 'exit-address-family', 'exit-vnc', 'quit', 'end']);

const norm = (l: string): string => l.trim().replace(/\s+/g, ' ');

/**
 * Parses an FRR config as we render it or as `show running-config` prints it: contexts are given by
 * indentation (one more leading space per level) and closed by `exit`-like lines; a line with deeper
 * lines under it, or directly followed by its closer at its own indentation, is a context. `!` lines,
 * comments, blank lines and the `show running-config` banner are skipped. Throws on a layout it cannot
 * read unambiguously (indentation jumping by more than one level under a line).
 */
export function parseFrrConfig(text: string): FrrTree {
  const raw = text.split('\n');
  const items: { indent: number; line: string }[] = [];
  for (const r of raw) {
    const s = r.trim();
    if (s === '' || s.charCodeAt(0) === 33 /* ! */ || s.charCodeAt(0) === 35 /* # */) continue;
    if (s === 'Building configuration...' || s === 'Current configuration:') continue;
    let indent = 0;
    while (r.charCodeAt(indent) === 32) indent++;
    if (r.charCodeAt(indent) === 9) throw new Error('tab indentation');
    items.push({ indent, line: /\s\s|\t/.test(s) ? norm(s) : s });
  }
  const tree: FrrTree = new Map();
  const ensure = (path: readonly string[], key: string): FrrContext => {
    let c = tree.get(key);
    if (c === undefined) {
      c = { path, lines: new Set() };
      tree.set(key, c);
    }
    return c;
  };
  const stack: { indent: number; ctx: FrrContext; key: string }[] = [];
  const top = ensure([], '');
  for (let i = 0; i < items.length; i++) {
    const it = items[i]!;
    while (stack.length > 0 && stack[stack.length - 1]!.indent >= it.indent) stack.pop();
    if (CLOSERS.has(it.line)) continue;
    const next = items[i + 1];
    const opens =
      next !== undefined &&
      (next.indent > it.indent || (next.indent === it.indent && CLOSERS.has(next.line)));
    if (next !== undefined && next.indent > it.indent + 1 && !CLOSERS.has(next.line)) {
      throw new Error(`indentation jumps from ${it.indent} to ${next.indent} after "${it.line}"`);
    }
    const parent = stack[stack.length - 1];
    if (opens) {
      const path = parent === undefined ? [it.line] : [...parent.ctx.path, it.line];
      const key = parent === undefined ? it.line : `${parent.key}\n${it.line}`;
      stack.push({ indent: it.indent, ctx: ensure(path, key), key });
    } else {
      (parent?.ctx ?? top).lines.add(it.line);
    }
  }
  return tree;
}

function cloneTree(t: FrrTree): FrrTree {
  const out: FrrTree = new Map();
  for (const [k, c] of t) out.set(k, { path: c.path, lines: new Set(c.lines) });
  return out;
}

const isPrefix = (p: readonly string[], of: readonly string[]): boolean =>
  p.length <= of.length && p.every((s, i) => of[i] === s);

/** A sub-context that is not deleted with `no <context line>` but line by line (frr-reload.py does the same). */
const deletedByLines = (path: readonly string[]): boolean =>
  path.length > 1 && /^address-family /.test(path[path.length - 1]!);

/** `neighbor X remote-as …` in a `router bgp` context: deleting it deletes the whole neighbor. */
const REMOTE_AS = /^neighbor (\S+) remote-as /;

const neighborOf = (line: string): string | undefined => /^neighbor (\S+) /.exec(line)?.[1];

// ---------------------------------------------------------------------------------------------------
// diff and plan

export interface StanzaChange {
  /** Contexts to delete with `no <last path element>` (subtrees included), deepest/last first. */
  removeContexts: FrrContext[];
  /** Lines to delete, per context: `no <line>`. */
  removeLines: { path: readonly string[]; line: string }[];
  /** Lines to add (and contexts to create), in the new config's order. */
  addLines: { path: readonly string[]; line: string | undefined }[];
  /** Everything the change makes FRR drop or gain, to predict the running config (see expectRunning). */
  dropped: { path: readonly string[]; line: string | undefined }[];
  /** Number of changed lines (the size that decides fast or full path). */
  size: number;
  /** Neighbors deleted and re-created because their remote-as changed (`router bgp …` path + address). */
  resetNeighbors: string[];
}

/** Why a change cannot take the fast path (undefined when it can). */
export type Unsuitable = string;

/**
 * The stanza-level difference from `prev` to `next`, as vtysh operations. Returns a string (why not)
 * when the change is not one the fast path handles.
 */
export function diffTrees(prev: FrrTree, next: FrrTree): StanzaChange | Unsuitable {
  const globalPrev = prev.get('')?.lines ?? new Set<string>();
  const globalNext = next.get('')?.lines ?? new Set<string>();
  if (globalPrev.size !== globalNext.size || [...globalPrev].some((l) => !globalNext.has(l))) {
    return 'global lines changed';
  }
  const change: StanzaChange = {
    removeContexts: [],
    removeLines: [],
    addLines: [],
    dropped: [],
    size: 0,
    resetNeighbors: [],
  };
  // Contexts that disappear: deleted as a whole unless an ancestor goes too.
  const gone = [...prev.values()].filter((c) => c.path.length > 0 && !next.has(keyOf(c.path)));
  const goneWhole = gone.filter((c) => !deletedByLines(c.path));
  const coveredByAncestor = (c: FrrContext): boolean =>
    goneWhole.some((g) => g !== c && g.path.length < c.path.length && isPrefix(g.path, c.path));
  for (const c of gone) {
    if (coveredByAncestor(c)) continue;
    if (deletedByLines(c.path)) {
      for (const line of c.lines) change.removeLines.push({ path: c.path, line });
    } else {
      change.removeContexts.push(c);
    }
  }
  // Neighbors whose remote-as line goes away (deleted, or re-created with another AS).
  const reset = new Set<string>(); // `${router path key}\n${address}`
  for (const c of prev.values()) {
    if (c.path.length !== 1 || !c.path[0]!.startsWith('router bgp ') || !next.has(keyOf(c.path))) continue;
    const nc = next.get(keyOf(c.path))!;
    for (const l of c.lines) {
      const m = REMOTE_AS.exec(l);
      if (m && !nc.lines.has(l)) reset.add(`${keyOf(c.path)}\n${m[1]}`);
    }
  }
  const isReset = (path: readonly string[], line: string): boolean => {
    if (reset.size === 0) return false;
    const n = neighborOf(line);
    return n !== undefined && path.length > 0 && reset.has(`${keyOf([path[0]!])}\n${n}`);
  };
  // Lines that disappear from surviving contexts.
  for (const c of prev.values()) {
    const nc = next.get(keyOf(c.path));
    if (nc === undefined) continue;
    for (const line of c.lines) {
      if (nc.lines.has(line)) continue;
      // A reset neighbor goes with its remote-as line; its other lines go with it.
      if (isReset(c.path, line) && !REMOTE_AS.test(line)) continue;
      change.removeLines.push({ path: c.path, line });
    }
  }
  // Lines and contexts that appear (and every line of a reset neighbor that stays).
  for (const c of next.values()) {
    if (c.path.length === 0) continue;
    const pc = prev.get(keyOf(c.path));
    if (pc === undefined && c.lines.size === 0) change.addLines.push({ path: c.path, line: undefined });
    for (const line of c.lines) {
      if (pc?.lines.has(line) && !isReset(c.path, line)) continue;
      change.addLines.push({ path: c.path, line });
    }
  }
  change.resetNeighbors = [...reset].map((r) => r.replace('\n', ' > '));
  // What FRR loses: removed contexts (with subtrees), removed lines, every line of reset neighbors.
  for (const c of change.removeContexts) change.dropped.push({ path: c.path, line: undefined });
  for (const r of change.removeLines) change.dropped.push(r);
  if (reset.size > 0) {
    for (const c of prev.values()) {
      for (const line of c.lines) {
        if (isReset(c.path, line) && !REMOTE_AS.test(line)) change.dropped.push({ path: c.path, line });
      }
    }
  }
  // Removals run in reverse order of the previous config: a `router bgp … vrf X` before its `vrf X`,
  // the VRF instances before the default one.
  const order = new Map([...prev.keys()].map((k, i) => [k, i]));
  const pos = (p: readonly string[]): number => order.get(keyOf(p)) ?? 0;
  change.removeContexts.sort((a, b) => pos(b.path) - pos(a.path));
  change.removeLines.sort((a, b) => pos(b.path) - pos(a.path));
  change.size = change.removeContexts.length + change.removeLines.length + change.addLines.length;
  return change;
}

/** The `no` form of a line (a line that is itself `no X` is removed by `X`). */
export function negate(line: string): string {
  return line.startsWith('no ') ? line.slice(3) : `no ${line}`;
}

/**
 * The vtysh commands of a change: each operation is entered from `configure terminal` through its
 * full context path (consecutive operations in the same or a deeper context share the navigation).
 */
export function vtyshCommands(change: StanzaChange): string[] {
  const cmds: string[] = [];
  let at: readonly string[] | undefined;
  const goTo = (path: readonly string[]): void => {
    if (at !== undefined && isPrefix(at, path)) {
      for (const p of path.slice(at.length)) cmds.push(p);
    } else {
      if (at !== undefined) cmds.push('end');
      cmds.push('configure terminal', ...path);
    }
    at = path;
  };
  for (const c of change.removeContexts) {
    goTo(c.path.slice(0, -1));
    cmds.push(negate(c.path[c.path.length - 1]!));
  }
  for (const r of change.removeLines) {
    goTo(r.path);
    cmds.push(negate(r.line));
  }
  for (const a of change.addLines) {
    // A context line re-entered from its own context would be read in the wrong node: navigate anew.
    if (at !== undefined && keyOf(at) === keyOf(a.path) && a.line === undefined) continue;
    goTo(a.path);
    if (a.line !== undefined) cmds.push(a.line);
  }
  if (at !== undefined) cmds.push('end');
  return cmds;
}

/** The running config FRR should print after the change, from the one it printed before. */
export function expectRunning(before: FrrTree, change: StanzaChange): FrrTree {
  const t = cloneTree(before);
  for (const d of change.dropped) {
    if (d.line === undefined) {
      for (const k of [...t.keys()]) if (isPrefix(d.path, t.get(k)!.path)) t.delete(k);
    } else {
      t.get(keyOf(d.path))?.lines.delete(d.line);
    }
  }
  for (const a of change.addLines) {
    for (let n = 1; n <= a.path.length; n++) {
      const p = a.path.slice(0, n);
      if (!t.has(keyOf(p))) t.set(keyOf(p), { path: p, lines: new Set() });
    }
    if (a.line !== undefined) t.get(keyOf(a.path))!.lines.add(a.line);
  }
  return t;
}

/** What the change removes that FRR's running config (as last read) does not have: FRR drifted. */
export function missingInRunning(before: FrrTree, change: StanzaChange): string[] {
  const out: string[] = [];
  for (const c of change.removeContexts) if (!before.has(keyOf(c.path))) out.push(c.path.join(' > '));
  for (const r of change.removeLines) {
    if (!before.get(keyOf(r.path))?.lines.has(r.line)) out.push([...r.path, r.line].join(' > '));
  }
  return out;
}

/**
 * Differences between two trees (sets of lines per context); sub-contexts without lines and without
 * sub-contexts count as absent (FRR does not print an empty address-family).
 */
export function treeDifferences(expected: FrrTree, actual: FrrTree): string[] {
  const live = (t: FrrTree): Map<string, FrrContext> => {
    const parents = new Set<string>();
    for (const c of t.values())
      for (let n = 1; n < c.path.length; n++) parents.add(keyOf(c.path.slice(0, n)));
    const m = new Map<string, FrrContext>();
    for (const [k, c] of t) {
      if (c.path.length > 1 && c.lines.size === 0 && !parents.has(k)) continue;
      m.set(k, c);
    }
    return m;
  };
  const e = live(expected);
  const a = live(actual);
  const out: string[] = [];
  for (const [k, c] of e) {
    const ac = a.get(k);
    const where = c.path.join(' > ');
    if (ac === undefined) {
      out.push(`missing context: ${where}`);
      continue;
    }
    for (const l of c.lines) if (!ac.lines.has(l)) out.push(`missing: ${where ? `${where} > ` : ''}${l}`);
    for (const l of ac.lines) if (!c.lines.has(l)) out.push(`unexpected: ${where ? `${where} > ` : ''}${l}`);
  }
  for (const [k, c] of a) if (!e.has(k)) out.push(`unexpected context: ${c.path.join(' > ')}`);
  return out;
}

/**
 * The commands of a change as a config file for vtysh's syntax check (`vtysh -C -f`): every command
 * inside its contexts, indented, each context closed.
 */
export function syntaxCheckText(change: StanzaChange): string {
  const out: string[] = [];
  const put = (path: readonly string[], line: string): void => {
    for (const [i, p] of path.entries()) out.push(`${' '.repeat(i)}${p}`);
    out.push(`${' '.repeat(path.length)}${line}`);
    for (let i = path.length - 1; i >= 0; i--) {
      out.push(
        `${' '.repeat(i)}${/^address-family /.test(path[i]!) ? 'exit-address-family' : /^vrf /.test(path[i]!) ? 'exit-vrf' : 'exit'}`,
      );
    }
  };
  for (const c of change.removeContexts) put(c.path.slice(0, -1), negate(c.path[c.path.length - 1]!));
  for (const r of change.removeLines) put(r.path, negate(r.line));
  for (const a of change.addLines) {
    if (a.line !== undefined) put(a.path, a.line);
    else put(a.path.slice(0, -1), a.path[a.path.length - 1]!);
  }
  return `${out.join('\n')}\n`;
}

/** The change in frr-reload.py's terms (contexts joined by " > "), for the reloader's answer. */
export function pendingOf(change: StanzaChange): PendingChanges {
  return {
    toDelete: [
      ...change.removeContexts.map((c) =>
        [...c.path.slice(0, -1), negate(c.path[c.path.length - 1]!)].join(' > '),
      ),
      ...change.removeLines.map((r) => [...r.path, negate(r.line)].join(' > ')),
    ],
    toAdd: change.addLines.map((a) => [...a.path, ...(a.line !== undefined ? [a.line] : [])].join(' > ')),
  };
}

// ---------------------------------------------------------------------------------------------------
// the fast path against a running FRR

export interface FastPathOptions {
  target: FrrTarget;
  runner?: CommandRunner;
  /** Largest change (lines) sent through vtysh; larger ones take frr-reload.py. Default 400. */
  maxLines?: number;
  /** Timeout of one vtysh run. Default 60 s. */
  timeoutMs?: number;
  vtyshPath?: string;
  /** Directory for the syntax-check file. Default os.tmpdir(). */
  tmpDir?: string;
}

export type FastPathResult =
  | {
      ok: true;
      changes: PendingChanges;
      /** vtysh commands sent. */
      commands: number;
      timings: { readMs: number; checkMs: number; applyMs: number; totalMs: number };
    }
  | {
      ok: false;
      /** Whether vtysh ran configuration commands (FRR may be changed: the full path must follow). */
      touched: boolean;
      /** Short reason: not-suitable, too-large, no-baseline, drift, syntax, vtysh-failed, mismatch. */
      reason: string;
      message: string;
      timings: { readMs: number; checkMs: number; applyMs: number; totalMs: number };
    };

const BANNER = 'Current configuration:';

export class FrrFastPath {
  readonly target: FrrTarget;
  readonly maxLines: number;
  private readonly runner: CommandRunner;
  private readonly timeoutMs: number;
  private readonly vtysh: string;
  private readonly tmpDir: string;
  /** FRR's running config, parsed, as read right after `baselineFor` was applied. */
  private baseline: { forText: string; tree: FrrTree; candidate?: FrrTree } | undefined;

  constructor(opts: FastPathOptions) {
    checkTarget(opts.target);
    this.target = opts.target;
    this.runner = opts.runner ?? runCommand;
    this.maxLines = opts.maxLines ?? 400;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.vtysh = opts.vtyshPath ?? VTYSH;
    this.tmpDir = opts.tmpDir ?? tmpdir();
  }

  /** `vtysh -C -f` (syntax only, no daemon) of the change's commands; FRR's words when rejected. */
  private async syntaxError(change: StanzaChange): Promise<string | undefined> {
    const file = join(this.tmpDir, `openperouter-fast-${process.pid}-${randomBytes(6).toString('hex')}.conf`);
    await writeFile(file, syntaxCheckText(change), { mode: 0o600, flag: 'wx' });
    try {
      const r = await this.runner(this.vtysh, ['-C', '-f', file], { timeoutMs: this.timeoutMs });
      if (r.code === 0) return undefined;
      const said = stripVTControlCharacters(`${r.stdout}${r.stderr}`).trim();
      return `${describeFailure('vtysh -C', r, this.timeoutMs)}${said ? `: ${said}` : ''}`;
    } finally {
      await rm(file, { force: true });
    }
  }

  private async vtyshRun(commands: readonly string[]): Promise<ReturnType<CommandRunner>> {
    const [file, args] = wrapCommand(this.target, this.vtysh, [
      ...vtyshTargetArgs(this.target),
      ...commands.flatMap((c) => ['-c', c]),
    ]);
    return this.runner(file, args, { timeoutMs: this.timeoutMs });
  }

  /** Reads FRR's running config. */
  async readRunning(): Promise<FrrTree> {
    const r = await this.vtyshRun(['show running-config']);
    if (r.code !== 0) {
      throw new Error(
        `${describeFailure('vtysh', r, this.timeoutMs)}: ${stripVTControlCharacters(r.stdout + r.stderr).trim()}`,
      );
    }
    return parseFrrConfig(stripVTControlCharacters(r.stdout));
  }

  /** Records FRR's running config as the state after `text` was applied (call after a full apply). */
  async rememberRunning(text: string): Promise<void> {
    this.baseline = undefined;
    this.baseline = { forText: text, tree: await this.readRunning() };
  }

  /** Forgets the recorded running config (FRR restarted, or an apply failed). */
  forget(): void {
    this.baseline = undefined;
  }

  /**
   * Applies `next` on top of `prev` (what FRR is believed to run) through vtysh and verifies it.
   * On `ok: false` the caller must fall back to the full path (and must, when `touched`, consider FRR
   * changed).
   */
  async apply(prev: string, next: string): Promise<FastPathResult> {
    const p = await this.prepare(prev, next);
    return p.ok ? p.commit() : p;
  }

  /**
   * The part of apply() that changes nothing in FRR: diff, baseline, drift check and vtysh's syntax
   * check. The reloader runs it while it checks that FRR's daemons are up, then commits.
   */
  async prepare(
    prev: string,
    next: string,
  ): Promise<(FastPathResult & { ok: false }) | { ok: true; commit: () => Promise<FastPathResult> }> {
    const t0 = performance.now();
    let readMs = 0;
    let checkMs = 0;
    let applyMs = 0;
    const timings = () => ({ readMs, checkMs, applyMs, totalMs: Math.round(performance.now() - t0) });
    const fail = (reason: string, message: string, touched = false): FastPathResult & { ok: false } => ({
      ok: false,
      touched,
      reason,
      message,
      timings: timings(),
    });
    let change: StanzaChange | Unsuitable;
    let nextTree: FrrTree;
    try {
      const known = this.baseline?.forText === prev ? this.baseline.candidate : undefined;
      nextTree = parseFrrConfig(next);
      change = diffTrees(known ?? parseFrrConfig(prev), nextTree);
    } catch (e) {
      return fail('not-suitable', `cannot parse the config: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (typeof change === 'string') return fail('not-suitable', change);
    if (change.size > this.maxLines) {
      return fail('too-large', `${change.size} changed lines (fast path up to ${this.maxLines})`);
    }
    let before: FrrTree;
    if (this.baseline !== undefined && this.baseline.forText === prev) {
      before = this.baseline.tree;
    } else {
      const tr = performance.now();
      try {
        before = await this.readRunning();
      } catch (e) {
        return fail('no-baseline', e instanceof Error ? e.message : String(e));
      }
      readMs = Math.round(performance.now() - tr);
    }
    const missing = missingInRunning(before, change);
    if (missing.length > 0) {
      return fail('drift', `FRR does not run what the last config had: ${missing.slice(0, 5).join('; ')}`);
    }
    const tc = performance.now();
    const syntax = await this.syntaxError(change).catch((e: unknown) => `syntax check failed: ${String(e)}`);
    checkMs = Math.round(performance.now() - tc);
    if (syntax !== undefined) return fail('syntax', syntax);
    const ready = change;
    const commit = async (): Promise<FastPathResult> => {
      // The baseline may have moved since prepare() (an FRR restart): then nothing is applied here.
      if (this.baseline !== undefined && this.baseline.tree !== before) {
        return fail('no-baseline', 'FRR changed between the preparation and the apply');
      }
      const commands = vtyshCommands(ready);
      // From here on FRR changes: what it runs is known again only once verified.
      this.baseline = undefined;
      const ta = performance.now();
      const r = await this.vtyshRun([...commands, 'show running-config']);
      applyMs = Math.round(performance.now() - ta);
      const stdout = stripVTControlCharacters(r.stdout);
      const banner = stdout.lastIndexOf(BANNER);
      if (r.code !== 0 || r.timedOut || banner < 0) {
        const said = stripVTControlCharacters(`${r.stdout}${r.stderr}`).trim();
        return fail(
          'vtysh-failed',
          `${describeFailure('vtysh', r, this.timeoutMs)}${said ? `: ${said.slice(0, 2000)}` : ''}`,
          true,
        );
      }
      let after: FrrTree;
      try {
        after = parseFrrConfig(stdout.slice(banner));
      } catch (e) {
        return fail('mismatch', `cannot parse the running config: ${String(e)}`, true);
      }
      const diffs = treeDifferences(expectRunning(before, ready), after);
      if (diffs.length > 0) {
        return fail(
          'mismatch',
          `running config differs from the expected one: ${diffs.slice(0, 10).join('; ')}`,
          true,
        );
      }
      this.baseline = { forText: next, tree: after, candidate: nextTree };
      return { ok: true, changes: pendingOf(ready), commands: commands.length, timings: timings() };
    };
    return { ok: true, commit };
  }
}
