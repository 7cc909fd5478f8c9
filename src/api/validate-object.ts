// Validation of one API object, in the order an API server applies it: group/kind lookup, strict
// decoding (unknown fields), defaulting, schema (types, bounds, enums, patterns), list keys, CEL rules;
// then the per-object rules the schema cannot express. All problems are reported, not just the first.
import { Type } from '@sinclair/typebox';
import { Ajv, type ErrorObject } from 'ajv';
import { childPath, type ValidationIssue } from './issues.js';
import { API_VERSION, GROUP, isKindName, KINDS, type KindName } from './kinds.js';
import { objectRules, updateRules } from './object-rules.js';
import { Metadata } from './schema/common.js';
import {
  applyDefaults,
  celProblems,
  type FieldProblem,
  type JsonSchema,
  listKeyProblems,
  unknownFields,
} from './schema-walk.js';
import type { RoutingObject, SourceRef } from './types.js';

const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false, verbose: true });

/** The whole-object schema of a kind (apiVersion, kind, metadata, spec, status). */
export function objectSchema(kind: KindName): JsonSchema {
  const info = KINDS[kind];
  const properties: Record<string, unknown> = {
    apiVersion: Type.String(),
    kind: Type.String(),
    metadata: Metadata,
    status: info.status,
  };
  if ('spec' in info) properties['spec'] = info.spec;
  const required = ['apiVersion', 'kind', 'metadata', ...('spec' in info ? ['spec'] : [])];
  return JSON.parse(JSON.stringify({ type: 'object', properties, required })) as JsonSchema;
}

const compiled = new Map<KindName, { schema: JsonSchema; check: ReturnType<typeof ajv.compile> }>();
function validatorFor(kind: KindName) {
  let v = compiled.get(kind);
  if (!v) {
    const schema = objectSchema(kind);
    v = { schema, check: ajv.compile(schema) };
    compiled.set(kind, v);
  }
  return v;
}

function pathOf(instancePath: string): string {
  let out = '';
  for (const seg of instancePath.split('/').slice(1)) {
    const key = seg.replace(/~1/g, '/').replace(/~0/g, '~');
    out = /^\d+$/.test(key) ? childPath(out, Number(key)) : childPath(out, key);
  }
  return out;
}

function describeAjvError(e: ErrorObject): FieldProblem {
  const field = pathOf(e.instancePath);
  const shown = JSON.stringify(e.data);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return { field: childPath(field, String(p['missingProperty'])), message: 'Required value' };
    case 'type':
      return { field, message: `Invalid value: ${shown}: must be of type ${String(p['type'])}` };
    case 'enum':
      return {
        field,
        message: `Unsupported value: ${shown}: supported values: ${(p['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
      };
    case 'minimum':
      return {
        field,
        message: `Invalid value: ${shown}: must be greater than or equal to ${String(p['limit'])}`,
      };
    case 'maximum':
      return {
        field,
        message: `Invalid value: ${shown}: must be less than or equal to ${String(p['limit'])}`,
      };
    case 'minLength':
      return { field, message: `Invalid value: ${shown}: must be at least ${String(p['limit'])} chars long` };
    case 'maxLength':
      return { field, message: `Too long: may not be more than ${String(p['limit'])} bytes (${shown})` };
    case 'pattern':
      return { field, message: `Invalid value: ${shown}: must match '${String(p['pattern'])}'` };
    case 'minItems':
      return { field, message: `Invalid value: must have at least ${String(p['limit'])} items` };
    case 'maxItems':
      return {
        field,
        message: `Too many: ${(e.data as unknown[]).length}: must have at most ${String(p['limit'])} items`,
      };
    default:
      return { field, message: e.message ?? e.keyword };
  }
}

export interface ObjectValidation {
  /** The defaulted object, present only when there are no issues (never for RouterNodeConfigurationStatus). */
  object?: RoutingObject;
  issues: ValidationIssue[];
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/**
 * Validates one decoded document. `old` is the stored object on an UPDATE (enables transition rules
 * such as immutability); omit it for CREATE and for files.
 */
export function validateObject(
  doc: unknown,
  opts: { source?: SourceRef; old?: RoutingObject } = {},
): ObjectValidation {
  const isObj = doc !== null && typeof doc === 'object' && !Array.isArray(doc);
  const raw = (isObj ? doc : {}) as Record<string, unknown>;
  const meta = (raw['metadata'] ?? {}) as Record<string, unknown>;
  const kindText = str(raw['kind']) ?? '(no kind)';
  const base = {
    kind: kindText,
    name: str(meta['name']) ?? '(no name)',
    ...(str(meta['namespace']) ? { namespace: str(meta['namespace'])! } : {}),
    ...(opts.source ? { source: opts.source } : {}),
  };
  const issue = (p: FieldProblem): ValidationIssue => ({ ...base, field: p.field, message: p.message });

  if (!isObj) return { issues: [issue({ field: '', message: 'document is not a YAML mapping (object)' })] };
  const apiVersion = str(raw['apiVersion']);
  if (apiVersion === undefined)
    return { issues: [issue({ field: 'apiVersion', message: 'Required value' })] };
  if (str(raw['kind']) === undefined)
    return { issues: [issue({ field: 'kind', message: 'Required value' })] };
  if (apiVersion !== API_VERSION || !isKindName(kindText)) {
    const hint = apiVersion.startsWith('openpe.openperouter.github.io/')
      ? `; the API group was renamed to ${GROUP}: re-create the object with apiVersion ${API_VERSION} and the current field names`
      : apiVersion.split('/')[0] === GROUP
        ? `; the kinds of ${API_VERSION} are ${Object.keys(KINDS).join(', ')}`
        : '; not an openperouter object';
    return {
      issues: [
        issue({
          field: '',
          message: `no matches for kind ${JSON.stringify(kindText)} in version ${JSON.stringify(apiVersion)}${hint}`,
        }),
      ],
    };
  }

  const kind: KindName = kindText;
  const { schema, check } = validatorFor(kind);
  const obj = structuredClone(raw);
  const problems: FieldProblem[] = [];
  problems.push(...unknownFields(schema, obj, ''));
  applyDefaults(schema, obj);
  if (!check(obj)) problems.push(...(check.errors ?? []).map(describeAjvError));
  problems.push(...listKeyProblems(schema, obj, ''));
  const structural = problems.length;
  // CEL rules assume a schema-valid object (the API server only runs them then, too).
  if (structural === 0) {
    problems.push(...celProblems(schema, obj, '', opts.old ? structuredClone(opts.old) : undefined));
  }
  if (problems.length === 0 && kind !== 'RouterNodeConfigurationStatus') {
    problems.push(...objectRules(obj as unknown as RoutingObject));
    if (opts.old) problems.push(...updateRules(opts.old, obj as unknown as RoutingObject));
  }
  if (problems.length > 0 || kind === 'RouterNodeConfigurationStatus') return { issues: problems.map(issue) };
  const object = obj as unknown as RoutingObject;
  if (opts.source) object.source = opts.source;
  return { object, issues: [] };
}
