// Walks a value together with its structural schema: unknown fields, defaults, list-map keys and the
// CEL rules attached to each node. Structural checks (types, bounds, enums, patterns) are ajv's job.
import { evaluateRule, ruleUsesOldSelf } from './cel.js';
import { childPath } from './issues.js';
import type { CelRule } from './schema/common.js';

export interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  required?: string[];
  default?: unknown;
  'x-kubernetes-validations'?: CelRule[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  [k: string]: unknown;
}

export interface FieldProblem {
  field: string;
  message: string;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Fills in schema defaults of absent fields inside objects that are present (what the API server does). */
export function applyDefaults(schema: JsonSchema, value: unknown): void {
  if (isPlainObject(value) && schema.properties) {
    for (const [key, sub] of Object.entries(schema.properties)) {
      if (value[key] === undefined && sub.default !== undefined) value[key] = structuredClone(sub.default);
      if (value[key] !== undefined) applyDefaults(sub, value[key]);
    }
  } else if (Array.isArray(value) && schema.items) {
    for (const item of value) applyDefaults(schema.items, item);
  }
}

/** Fields the schema does not declare (strict decoding, as `kubectl apply` does by default). */
export function unknownFields(schema: JsonSchema, value: unknown, path: string): FieldProblem[] {
  const out: FieldProblem[] = [];
  if (schema['x-kubernetes-preserve-unknown-fields']) return out;
  if (isPlainObject(value)) {
    if (schema.properties) {
      for (const [key, v] of Object.entries(value)) {
        const sub = schema.properties[key];
        if (!sub) out.push({ field: childPath(path, key), message: 'unknown field' });
        else out.push(...unknownFields(sub, v, childPath(path, key)));
      }
    } else if (isPlainObject(schema.additionalProperties)) {
      for (const [key, v] of Object.entries(value)) {
        out.push(...unknownFields(schema.additionalProperties, v, childPath(path, key)));
      }
    }
  } else if (Array.isArray(value) && schema.items) {
    value.forEach((item, i) => {
      out.push(...unknownFields(schema.items!, item, childPath(path, i)));
    });
  }
  return out;
}

/** Duplicate keys in `x-kubernetes-list-type: map` lists and duplicate items in `set` lists. */
export function listKeyProblems(schema: JsonSchema, value: unknown, path: string): FieldProblem[] {
  const out: FieldProblem[] = [];
  if (Array.isArray(value)) {
    const listType = schema['x-kubernetes-list-type'];
    if (listType === 'map' || listType === 'set') {
      const keys = schema['x-kubernetes-list-map-keys'] ?? [];
      const seen = new Set<string>();
      value.forEach((item, i) => {
        const id =
          listType === 'map' && isPlainObject(item)
            ? JSON.stringify(Object.fromEntries(keys.map((k) => [k, item[k]])))
            : JSON.stringify(item);
        if (seen.has(id)) out.push({ field: childPath(path, i), message: `Duplicate value: ${id}` });
        seen.add(id);
      });
    }
    if (schema.items)
      value.forEach((item, i) => {
        out.push(...listKeyProblems(schema.items!, item, childPath(path, i)));
      });
  } else if (isPlainObject(value) && schema.properties) {
    for (const [key, sub] of Object.entries(schema.properties)) {
      if (value[key] !== undefined) out.push(...listKeyProblems(sub, value[key], childPath(path, key)));
    }
  }
  return out;
}

/**
 * Evaluates every x-kubernetes-validations rule whose node is present. Transition rules (those using
 * oldSelf) run only when an old value exists at the same path, as on an API server UPDATE.
 */
export function celProblems(
  schema: JsonSchema,
  value: unknown,
  path: string,
  oldValue?: unknown,
): FieldProblem[] {
  const out: FieldProblem[] = [];
  if (value === undefined) return out;
  for (const r of schema['x-kubernetes-validations'] ?? []) {
    const transition = ruleUsesOldSelf(r.rule);
    if (transition && oldValue === undefined) continue;
    let ok: boolean;
    try {
      ok = evaluateRule(r.rule, value, transition ? oldValue : undefined);
    } catch (err) {
      out.push({
        field: path,
        message: `rule ${JSON.stringify(r.rule)} could not be evaluated: ${(err as Error).message}`,
      });
      continue;
    }
    if (!ok) out.push({ field: path, message: r.message });
  }
  if (isPlainObject(value) && schema.properties) {
    const old = isPlainObject(oldValue) ? oldValue : undefined;
    for (const [key, sub] of Object.entries(schema.properties)) {
      out.push(...celProblems(sub, value[key], childPath(path, key), old?.[key]));
    }
  } else if (Array.isArray(value) && schema.items) {
    // List items are correlated with old items only for map lists (by key), as Kubernetes does;
    // none of our transition rules sit below a list, so items never see oldSelf here.
    value.forEach((item, i) => {
      out.push(...celProblems(schema.items!, item, childPath(path, i)));
    });
  }
  return out;
}
