// Static mode's input: a directory of standard manifests (what a user would `kubectl apply`), read
// again on every change. An object that becomes invalid keeps its last good version (a typo must not
// tear a VRF down); a file that stops parsing keeps the objects it had. Both are reported.
// The last good versions can be saved (saveState) and restored in a later process (restoreState), so
// that an agent restarted while a file is broken keeps them too.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ValidationIssue } from '../api/issues.js';
import { loadText, toSnapshot } from '../api/load.js';
import { type ApiSnapshot, objectKey, type RoutingObject } from '../api/types.js';
import { validateObject } from '../api/validate-object.js';

/** What saveState returns and restoreState takes (JSON-serialisable). */
export interface StaticDirState {
  version: 1;
  /** The directory the state belongs to (absolute). */
  dir: string;
  /** The objects each file contributed on its last successful read, by file path. */
  files: Record<string, RoutingObject[]>;
}

export interface StaticRead {
  snapshot: ApiSnapshot;
  /** Problems of this read; each says whether a last good version is used instead. */
  issues: ValidationIssue[];
  files: string[];
}

const MANIFEST = /\.(ya?ml|json)$/i;

export class StaticManifestDir {
  /** Last good version of every object, by kind/namespace/name. */
  private lastGood = new Map<string, RoutingObject>();
  /** Objects each file contributed on its last successful parse. */
  private byFile = new Map<string, RoutingObject[]>();

  constructor(readonly dir: string) {}

  /** The last good objects of every file, to be given to restoreState by a later process. */
  saveState(): StaticDirState {
    const files: Record<string, RoutingObject[]> = {};
    for (const [file, objects] of [...this.byFile.entries()].sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    )) {
      if (objects.length > 0) files[file] = objects;
    }
    return { version: 1, dir: resolve(this.dir), files };
  }

  /**
   * Seeds the last good versions from a saved state (before the first read). Objects that no longer
   * validate (a newer schema) are dropped; a state of another directory or version is ignored.
   * Returns what was not restored, for the log.
   */
  restoreState(state: unknown): string[] {
    const problems: string[] = [];
    const s = state as Partial<StaticDirState> | null;
    if (
      s === null ||
      typeof s !== 'object' ||
      s.version !== 1 ||
      typeof s.files !== 'object' ||
      s.files === null
    ) {
      return ['not a saved static-mode state (version 1)'];
    }
    if (s.dir !== resolve(this.dir)) return [`saved for another directory (${String(s.dir)})`];
    for (const [file, objects] of Object.entries(s.files)) {
      if (!Array.isArray(objects)) continue;
      const kept: RoutingObject[] = [];
      for (const o of objects as unknown[]) {
        // `source` (file, document) is ours, not a field of the object.
        const { source, ...doc } = (o ?? {}) as { source?: RoutingObject['source'] };
        const v = validateObject(doc, source ? { source } : {});
        if (v.object && v.issues.length === 0) {
          kept.push(v.object);
          this.lastGood.set(objectKey(v.object), v.object);
        } else {
          problems.push(
            `${file}: a saved object no longer validates: ${v.issues.map((i) => i.message).join('; ')}`,
          );
        }
      }
      if (kept.length > 0) this.byFile.set(file, kept);
    }
    return problems;
  }

  files(): string[] {
    let entries: string[];
    try {
      entries = readdirSync(this.dir);
    } catch {
      return [];
    }
    return entries
      .filter((e) => !e.startsWith('.') && MANIFEST.test(e))
      .map((e) => join(this.dir, e))
      .filter((f) => statSync(f, { throwIfNoEntry: false })?.isFile() ?? false)
      .sort();
  }

  read(): StaticRead {
    const issues: ValidationIssue[] = [];
    const objects = new Map<string, RoutingObject>();
    const files = this.files();
    const nextByFile = new Map<string, RoutingObject[]>();
    for (const file of files) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        issues.push({ kind: '(file)', name: file, field: '', message: (err as Error).message });
        continue;
      }
      const r = loadText(text, file);
      const syntaxBroken = r.issues.some((i) => i.kind === '(file)');
      const kept = this.byFile.get(file) ?? [];
      if (syntaxBroken && kept.length > 0) {
        // Cannot tell which objects the file meant: keep everything it had.
        for (const i of r.issues)
          issues.push({ ...i, message: `${i.message}; keeping the ${kept.length} object(s) this file had` });
        for (const o of kept) objects.set(objectKey(o), o);
        nextByFile.set(file, kept);
        continue;
      }
      const contributed: RoutingObject[] = [];
      for (const i of r.issues) {
        const key = `${i.kind} ${i.namespace ? `${i.namespace}/` : ''}${i.name}`;
        const good = this.lastGood.get(key);
        if (good) {
          objects.set(key, good);
          contributed.push(good);
          issues.push({ ...i, message: `${i.message}; keeping its last good version` });
        } else {
          issues.push(i);
        }
      }
      for (const o of r.objects) {
        const key = objectKey(o);
        if (objects.has(key)) {
          issues.push({
            kind: o.kind,
            name: o.metadata.name,
            ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
            field: '',
            message: `defined twice (again in ${file}); the first definition is used`,
          });
          continue;
        }
        objects.set(key, o);
        contributed.push(o);
      }
      nextByFile.set(file, contributed);
    }
    this.byFile = nextByFile;
    this.lastGood = new Map(objects);
    return { snapshot: toSnapshot([...objects.values()]), issues, files };
  }
}
