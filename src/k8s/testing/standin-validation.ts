// What the API server stand-in checks when one of our kinds (network.openperouter.io/v1alpha1) is
// written, i.e. what kube-apiserver does with the generated CRD: prune unknown fields (or reject them
// with fieldValidation=Strict), apply schema defaults, validate the schema and the
// x-kubernetes-validations CEL rules (transition rules on UPDATE). This reuses src/api's
// validateObject. The extra per-object rules validateObject also runs (upstream's webhook checks,
// "not supported yet" fields) are NOT applied here: a real API server does not run them, our webhook
// does, and tests of the webhook must see objects reach it.
import type { ValidationIssue } from '../../api/issues.js';
import { API_VERSION, isKindName, type KindName } from '../../api/kinds.js';
import { objectRules, updateRules } from '../../api/object-rules.js';
import {
  applyDefaults,
  celProblems,
  type FieldProblem,
  type JsonSchema,
  unknownFields,
} from '../../api/schema-walk.js';
import type { RoutingObject } from '../../api/types.js';
import { objectSchema, validateObject } from '../../api/validate-object.js';
import { isObject, type KObject, meta, str } from './standin-json.js';
import type { StatusCause } from './standin-status.js';

/** True for objects whose kind validateObject knows (our CRD kinds). */
export function isOurKind(o: KObject): boolean {
  return o['apiVersion'] === API_VERSION && isKindName(o['kind']);
}

export interface SchemaOutcome {
  /** The pruned, defaulted object (what would be stored). */
  object: KObject;
  /** Paths of the unknown fields that were pruned, e.g. `spec.foo`. */
  unknownFields: string[];
  /** Field errors; empty when the object is valid. */
  causes: StatusCause[];
}

/** Removes what the schema does not declare (the real server's pruning of structural schemas). */
export function prune(schema: JsonSchema, value: unknown): void {
  if (schema['x-kubernetes-preserve-unknown-fields']) return;
  if (isObject(value)) {
    if (schema.properties) {
      for (const key of Object.keys(value)) {
        const sub = schema.properties[key];
        if (sub) prune(sub, value[key]);
        else delete value[key];
      }
    } else if (isObject(schema.additionalProperties)) {
      for (const v of Object.values(value)) prune(schema.additionalProperties, v);
    }
  } else if (Array.isArray(value) && schema.items) {
    for (const item of value) prune(schema.items, item);
  }
}

/** The schema node at a printed field path such as `spec.neighbors[0].address`. */
function schemaAt(schema: JsonSchema, field: string): JsonSchema | undefined {
  let cur: JsonSchema | undefined = schema;
  for (const m of field.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    if (!cur) return undefined;
    if (m[2] !== undefined) cur = cur.items;
    else {
      const key = m[1] ?? '';
      cur =
        cur.properties?.[key] ?? (isObject(cur.additionalProperties) ? cur.additionalProperties : undefined);
    }
  }
  return cur;
}

const REASONS: [string, string][] = [
  ['Required value', 'FieldValueRequired'],
  ['Unsupported value', 'FieldValueNotSupported'],
  ['Invalid value', 'FieldValueInvalid'],
  ['Too long', 'FieldValueTooLong'],
  ['Too many', 'FieldValueTooMany'],
  ['Duplicate value', 'FieldValueDuplicate'],
  ['Forbidden', 'FieldValueForbidden'],
];

function reasonOf(message: string): string {
  return REASONS.find(([prefix]) => message.startsWith(prefix))?.[1] ?? 'FieldValueInvalid';
}

const key = (p: { field: string; message: string }) => `${p.field}\u0000${p.message}`;

function sameProblems(a: { field: string; message: string }[], b: FieldProblem[]): boolean {
  if (a.length !== b.length) return false;
  const left = a.map(key).sort();
  const right = b.map(key).sort();
  return left.every((k, i) => k === right[i]);
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** metadata.name checks every resource gets (DNS-1123 subdomain, like most real kinds). */
export function nameCauses(name: string): StatusCause[] {
  if (name.length > 253)
    return [
      {
        reason: 'FieldValueInvalid',
        message: `Invalid value: "${name}": must be no more than 253 characters`,
        field: 'metadata.name',
      },
    ];
  if (DNS1123_SUBDOMAIN.test(name)) return [];
  return [
    {
      reason: 'FieldValueInvalid',
      message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
      field: 'metadata.name',
    },
  ];
}

/**
 * Prunes, defaults and validates one of our objects as the real server would for the generated CRD.
 * `old` is the stored object on UPDATE/PATCH (enables transition rules).
 */
export function checkCustomObject(candidate: KObject, old?: KObject): SchemaOutcome {
  const kind = candidate['kind'] as KindName;
  const schema = objectSchema(kind);
  const obj = structuredClone(candidate);
  const unknown = unknownFields(schema, obj, '').map((p) => p.field);
  prune(schema, obj);
  applyDefaults(schema, obj);
  const result = validateObject(obj, old ? { old: old as unknown as RoutingObject } : {});
  let problems: { field: string; message: string }[] = result.issues.map((i: ValidationIssue) => ({
    field: i.field,
    message: i.message,
  }));
  if (problems.length > 0 && kind !== 'RouterNodeConfigurationStatus') {
    // validateObject runs the webhook-only rules only when schema and CEL passed; if what it reports
    // is exactly those rules, the CRD itself admits the object.
    let rules: FieldProblem[] | undefined;
    try {
      const o = obj as unknown as RoutingObject;
      rules = [...objectRules(o), ...(old ? updateRules(old as unknown as RoutingObject, o) : [])];
    } catch {
      rules = undefined;
    }
    if (rules && sameProblems(problems, rules)) problems = [];
  }
  if (problems.length === 0) return { object: obj, unknownFields: unknown, causes: [] };

  // CEL failures read `<field>: Invalid value: "<schema type>": <message>` on a real server.
  const cel = new Set(celProblems(schema, obj, '', old ? structuredClone(old) : undefined).map(key));
  const causes = problems.map((p): StatusCause => {
    if (cel.has(key(p))) {
      const type = schemaAt(schema, p.field)?.type ?? 'object';
      return {
        reason: 'FieldValueInvalid',
        message: `Invalid value: "${type}": ${p.message}`,
        field: p.field,
      };
    }
    return { reason: reasonOf(p.message), message: p.message, field: p.field };
  });
  return { object: obj, unknownFields: unknown, causes };
}

/** Name of the object for messages. */
export function nameOf(o: KObject): string {
  return str(meta(o)['name']) ?? '';
}
