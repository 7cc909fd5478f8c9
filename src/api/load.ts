// Reading manifests: files or directories of YAML (multi-document) or JSON, exactly what a user would
// `kubectl apply -f`. Every document is validated; problems are collected, never thrown.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { ValidationIssue } from './issues.js';
import { type ApiSnapshot, emptySnapshot, type RoutingObject } from './types.js';
import { validateObject } from './validate-object.js';

export interface LoadResult {
  objects: RoutingObject[];
  issues: ValidationIssue[];
  /** Documents the caller asked to keep aside (e.g. v1 Node objects for the offline commands). */
  extras: unknown[];
}

export interface LoadOptions {
  /** Documents for which this returns true are returned in `extras` instead of being validated. */
  isExtra?: (doc: unknown) => boolean;
}

const MANIFEST = /\.(ya?ml|json)$/i;

/** Files named by the user, directories expanded (sorted, non-recursive into hidden entries). */
export function manifestFiles(paths: string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    const st = statSync(p);
    if (st.isDirectory()) {
      const entries = readdirSync(p)
        .filter((e) => !e.startsWith('.'))
        .sort();
      out.push(
        ...manifestFiles(
          entries.map((e) => join(p, e)).filter((f) => statSync(f).isDirectory() || MANIFEST.test(f)),
        ),
      );
    } else {
      out.push(p);
    }
  }
  return out;
}

function fileIssue(file: string, document: number, message: string): ValidationIssue {
  return { kind: '(file)', name: file, field: '', message, source: { file, document } };
}

/** Parses and validates every document of one file's text. `List` kinds are flattened. */
export function loadText(text: string, file: string, opts: LoadOptions = {}): LoadResult {
  const result: LoadResult = { objects: [], issues: [], extras: [] };
  const docs = parseAllDocuments(text, { prettyErrors: true });
  if (!Array.isArray(docs)) {
    result.issues.push(fileIssue(file, 0, 'not a YAML document stream'));
    return result;
  }
  docs.forEach((doc, document) => {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) result.issues.push(fileIssue(file, document, `YAML: ${e.message}`));
      return;
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) return; // empty document (e.g. a trailing ---)
    const kind =
      typeof value === 'object' && !Array.isArray(value) ? (value as { kind?: unknown }).kind : undefined;
    const items =
      typeof kind === 'string' && kind.endsWith('List') && Array.isArray((value as { items?: unknown }).items)
        ? ((value as { items?: unknown[] }).items ?? [])
        : [value];
    for (const item of items) {
      if (opts.isExtra?.(item)) {
        result.extras.push(item);
        continue;
      }
      const v = validateObject(item, { source: { file, document } });
      result.issues.push(...v.issues);
      if (v.object) result.objects.push(v.object);
    }
  });
  return result;
}

export function loadManifests(paths: string[], opts: LoadOptions = {}): LoadResult {
  const result: LoadResult = { objects: [], issues: [], extras: [] };
  let files: string[];
  try {
    files = manifestFiles(paths);
  } catch (err) {
    result.issues.push(fileIssue(String(paths), 0, (err as Error).message));
    return result;
  }
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      result.issues.push(fileIssue(file, 0, (err as Error).message));
      continue;
    }
    const r = loadText(text, file, opts);
    result.objects.push(...r.objects);
    result.issues.push(...r.issues);
    result.extras.push(...r.extras);
  }
  return result;
}

export function toSnapshot(objects: RoutingObject[]): ApiSnapshot {
  const s = emptySnapshot();
  for (const o of objects) {
    switch (o.kind) {
      case 'Underlay':
        s.underlays.push(o);
        break;
      case 'L3VNI':
        s.l3vnis.push(o);
        break;
      case 'L2VNI':
        s.l2vnis.push(o);
        break;
      case 'L3Passthrough':
        s.l3passthroughs.push(o);
        break;
      case 'L3VPN':
        s.l3vpns.push(o);
        break;
      case 'RawFRRConfig':
        s.rawFRRConfigs.push(o);
        break;
    }
  }
  return s;
}
