// JSON helpers of the API server stand-in: object access, deep equality, merge patch (RFC 7386),
// JSON patch (RFC 6902) and the string forms of label and field selectors.
import { StatusError } from './standin-status.js';

export type KObject = Record<string, unknown>;

export function isObject(v: unknown): v is KObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The object's metadata, created empty when absent. */
export function meta(o: KObject): KObject {
  if (!isObject(o['metadata'])) o['metadata'] = {};
  return o['metadata'] as KObject;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function labelsOf(o: KObject | undefined): Record<string, string> {
  const l = o && isObject(o['metadata']) ? (o['metadata'] as KObject)['labels'] : undefined;
  const out: Record<string, string> = {};
  if (isObject(l)) for (const [k, v] of Object.entries(l)) if (typeof v === 'string') out[k] = v;
  return out;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: KObject = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function pointer(path: unknown): string[] {
  if (typeof path !== 'string' || (path !== '' && !path.startsWith('/')))
    throw StatusError.badRequest(`invalid JSON pointer: ${JSON.stringify(path)}`);
  if (path === '') return [];
  return path
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: unknown, tokens: string[], op: string): { parent: unknown; key: string } {
  let cur = doc;
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(t)];
    else if (isObject(cur)) cur = cur[t];
    else cur = undefined;
    if (cur === undefined)
      throw StatusError.invalidPatch(
        `${op} operation does not apply: doc is missing path: /${tokens.join('/')}`,
      );
  }
  return { parent: cur, key: tokens[tokens.length - 1] ?? '' };
}

function getAt(doc: unknown, tokens: string[], op: string): unknown {
  if (tokens.length === 0) return doc;
  const { parent, key } = parentOf(doc, tokens, op);
  const v = Array.isArray(parent) ? parent[Number(key)] : isObject(parent) ? parent[key] : undefined;
  if (v === undefined)
    throw StatusError.invalidPatch(
      `${op} operation does not apply: doc is missing path: /${tokens.join('/')}`,
    );
  return v;
}

function arrayIndex(arr: unknown[], key: string, allowEnd: boolean, op: string): number {
  if (key === '-' && allowEnd) return arr.length;
  const i = Number(key);
  if (!/^\d+$/.test(key) || i > arr.length || (!allowEnd && i === arr.length))
    throw StatusError.invalidPatch(`${op} operation does not apply: index out of range: ${key}`);
  return i;
}

function removeAt(doc: unknown, tokens: string[], op: string): unknown {
  const { parent, key } = parentOf(doc, tokens, op);
  if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, key, false, op), 1)[0];
  if (isObject(parent) && key in parent) {
    const v = parent[key];
    delete parent[key];
    return v;
  }
  throw StatusError.invalidPatch(`${op} operation does not apply: doc is missing path: /${tokens.join('/')}`);
}

function addAt(doc: unknown, tokens: string[], value: unknown, op: string, replace: boolean): unknown {
  if (tokens.length === 0) return value;
  const { parent, key } = parentOf(doc, tokens, op);
  if (Array.isArray(parent)) {
    const i = arrayIndex(parent, key, !replace, op);
    if (replace) parent[i] = value;
    else parent.splice(i, 0, value);
  } else if (isObject(parent)) {
    if (replace && !(key in parent))
      throw StatusError.invalidPatch(
        `replace operation does not apply: doc is missing key: /${tokens.join('/')}`,
      );
    parent[key] = value;
  } else {
    throw StatusError.invalidPatch(
      `${op} operation does not apply: doc is missing path: /${tokens.join('/')}`,
    );
  }
  return doc;
}

/** RFC 6902 JSON patch; failures are 422 (like the real server's "the server rejected our request"). */
export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops))
    throw StatusError.badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  let doc = structuredClone(target);
  for (const raw of ops) {
    if (!isObject(raw)) throw StatusError.badRequest('invalid JSON patch operation');
    const op = str(raw['op']) ?? '';
    const path = pointer(raw['path']);
    switch (op) {
      case 'add':
        doc = addAt(doc, path, structuredClone(raw['value']), op, false);
        break;
      case 'replace':
        doc = addAt(doc, path, structuredClone(raw['value']), op, true);
        break;
      case 'remove':
        removeAt(doc, path, op);
        break;
      case 'move': {
        const v = removeAt(doc, pointer(raw['from']), op);
        doc = addAt(doc, path, v, op, false);
        break;
      }
      case 'copy':
        doc = addAt(doc, path, structuredClone(getAt(doc, pointer(raw['from']), op)), op, false);
        break;
      case 'test':
        if (!deepEqual(getAt(doc, path, op), raw['value']))
          throw StatusError.invalidPatch(`testing value ${str(raw['path'])} failed: test failed`);
        break;
      default:
        throw StatusError.badRequest(`Unexpected kind: ${op}`);
    }
  }
  return doc;
}

// ---- selectors (the string forms used in ?labelSelector= and ?fieldSelector=)

export interface Requirement {
  key: string;
  op: 'exists' | '!exists' | '=' | '!=' | 'in' | 'notin' | 'gt' | 'lt';
  values: string[];
}

function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const c of s) {
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (c === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

const KEY = '[A-Za-z0-9][-A-Za-z0-9_./]*';

/** Parses `a=b,c!=d,e in (x,y),f notin (z),g,!h`; throws a 400 Status on malformed input. */
export function parseLabelSelector(s: string): Requirement[] {
  return splitTopLevel(s).map((part) => {
    let m = new RegExp(`^!\\s*(${KEY})$`).exec(part);
    if (m) return { key: m[1]!, op: '!exists', values: [] };
    m = new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\(([^()]*)\\)$`).exec(part);
    if (m) {
      const values = m[3]!.split(',').map((v) => v.trim());
      return { key: m[1]!, op: m[2] === 'in' ? 'in' : 'notin', values };
    }
    m = new RegExp(`^(${KEY})\\s*(==|=|!=)\\s*([-A-Za-z0-9_.]*)$`).exec(part);
    if (m) return { key: m[1]!, op: m[2] === '!=' ? '!=' : '=', values: [m[3]!] };
    m = new RegExp(`^(${KEY})\\s*([<>])\\s*(\\d+)$`).exec(part);
    if (m) return { key: m[1]!, op: m[2] === '>' ? 'gt' : 'lt', values: [m[3]!] };
    m = new RegExp(`^(${KEY})$`).exec(part);
    if (m) return { key: m[1]!, op: 'exists', values: [] };
    throw StatusError.badRequest(`unable to parse requirement: found '${part}', expected: valid selector`);
  });
}

export function requirementsMatch(reqs: Requirement[], labels: Record<string, string>): boolean {
  return reqs.every((r) => {
    const v = labels[r.key];
    switch (r.op) {
      case 'exists':
        return v !== undefined;
      case '!exists':
        return v === undefined;
      case '=':
      case 'in':
        return v !== undefined && r.values.includes(v);
      case '!=':
      case 'notin':
        return v === undefined || !r.values.includes(v);
      case 'gt':
        return v !== undefined && /^\d+$/.test(v) && Number(v) > Number(r.values[0]);
      case 'lt':
        return v !== undefined && /^\d+$/.test(v) && Number(v) < Number(r.values[0]);
    }
    return false;
  });
}

/** Parses `metadata.name=x,metadata.namespace!=y`; only those two fields are supported. */
export function parseFieldSelector(s: string, isCustom: boolean): Requirement[] {
  return splitTopLevel(s).map((part) => {
    const m = /^([A-Za-z.]+)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (!m) throw StatusError.badRequest(`invalid selector: '${s}'; can't understand '${part}'`);
    const field = m[1]!;
    if (field !== 'metadata.name' && field !== 'metadata.namespace') {
      throw StatusError.badRequest(
        isCustom
          ? `"${field}" is not a known field selector: only "metadata.name", "metadata.namespace"`
          : `field label not supported: ${field}`,
      );
    }
    return { key: field, op: m[2] === '!=' ? '!=' : '=', values: [m[3]!.trim()] };
  });
}

export function fieldsOf(o: KObject): Record<string, string> {
  const m = meta(o);
  const out: Record<string, string> = { 'metadata.name': str(m['name']) ?? '' };
  out['metadata.namespace'] = str(m['namespace']) ?? '';
  return out;
}
