// Builders for Kubernetes structural schemas on top of TypeBox. One schema per kind is the single
// source of truth: the TypeScript types (Static<>), the CRD openAPIV3Schema and in-process validation
// all come from it. Only constructs a structural schema allows are used (no anyOf/oneOf unions for
// enums: `enum` on a string type instead).
import { type TSchema, type TUnsafe, Type } from '@sinclair/typebox';

export interface CelRule {
  rule: string;
  message: string;
  /** Rules that reference oldSelf only run on UPDATE. */
  fieldPath?: string;
}

/** Per-schema options understood by the CRD emitter and the validator. */
export interface K8sOptions {
  description?: string;
  celRules?: CelRule[];
  default?: unknown;
  listType?: 'atomic' | 'map' | 'set';
  listMapKeys?: string[];
  mapType?: 'atomic' | 'granular';
  preserveUnknownFields?: boolean;
}

export function k8s(opts: K8sOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (opts.description) out['description'] = opts.description;
  if (opts.celRules && opts.celRules.length > 0) out['x-kubernetes-validations'] = opts.celRules;
  if (opts.default !== undefined) out['default'] = opts.default;
  if (opts.listType) out['x-kubernetes-list-type'] = opts.listType;
  if (opts.listMapKeys) out['x-kubernetes-list-map-keys'] = opts.listMapKeys;
  if (opts.mapType) out['x-kubernetes-map-type'] = opts.mapType;
  if (opts.preserveUnknownFields) out['x-kubernetes-preserve-unknown-fields'] = true;
  return out;
}

export function StringEnum<const T extends readonly string[]>(
  values: T,
  opts: K8sOptions & { minLength?: number; maxLength?: number } = {},
): TUnsafe<T[number]> {
  const { minLength, maxLength, ...rest } = opts;
  return Type.Unsafe<T[number]>({
    type: 'string',
    enum: [...values],
    ...(minLength !== undefined ? { minLength } : {}),
    ...(maxLength !== undefined ? { maxLength } : {}),
    ...k8s(rest),
  });
}

export function Int64(opts: K8sOptions & { minimum?: number; maximum?: number } = {}) {
  const { minimum, maximum, ...rest } = opts;
  return Type.Integer({
    format: 'int64',
    ...(minimum !== undefined ? { minimum } : {}),
    ...(maximum !== undefined ? { maximum } : {}),
    ...k8s(rest),
  });
}

export function Int32(opts: K8sOptions & { minimum?: number; maximum?: number; enum?: number[] } = {}) {
  const { minimum, maximum, enum: values, ...rest } = opts;
  return Type.Integer({
    format: 'int32',
    ...(minimum !== undefined ? { minimum } : {}),
    ...(maximum !== undefined ? { maximum } : {}),
    ...(values ? { enum: values } : {}),
    ...k8s(rest),
  });
}

export function Str(
  opts: K8sOptions & { minLength?: number; maxLength?: number; pattern?: string; format?: string } = {},
) {
  const { minLength, maxLength, pattern, format, ...rest } = opts;
  return Type.String({
    ...(minLength !== undefined ? { minLength } : {}),
    ...(maxLength !== undefined ? { maxLength } : {}),
    ...(pattern !== undefined ? { pattern } : {}),
    ...(format !== undefined ? { format } : {}),
    ...k8s(rest),
  });
}

export function Obj<P extends Record<string, TSchema>>(properties: P, opts: K8sOptions = {}) {
  return Type.Object(properties, k8s(opts));
}

export function List<T extends TSchema>(
  items: T,
  opts: K8sOptions & { minItems?: number; maxItems?: number } = {},
) {
  const { minItems, maxItems, ...rest } = opts;
  return Type.Array(items, {
    ...(minItems !== undefined ? { minItems } : {}),
    ...(maxItems !== undefined ? { maxItems } : {}),
    ...k8s(rest),
  });
}

/** map[string]string, spelled the structural way (additionalProperties, not patternProperties). */
export function StringMap(opts: K8sOptions = {}) {
  return Type.Unsafe<Record<string, string>>({
    type: 'object',
    additionalProperties: { type: 'string' },
    ...k8s(opts),
  });
}

/** A free-form JSON object kept as written (CNI configuration). */
export function FreeForm(opts: K8sOptions = {}) {
  return Type.Unsafe<Record<string, unknown>>({
    type: 'object',
    ...k8s({ ...opts, preserveUnknownFields: true }),
  });
}

export const Opt = Type.Optional;

// Interface-name rules shared by neighbors and IS-IS interfaces (upstream messages).
export const interfaceNameRules: CelRule[] = [
  { rule: "!self.matches('[/:\\\\s]')", message: 'Interface must not contain /, :, or whitespace' },
  { rule: "self != '.' && self != '..'", message: 'Interface cannot be . or ..' },
];

/** metav1.LabelSelector, as the API server's schema has it. */
export const LabelSelector = Obj(
  {
    matchLabels: Opt(StringMap({ description: 'Equality requirements, ANDed.' })),
    matchExpressions: Opt(
      List(
        Obj({
          key: Str({ description: 'The label key the selector applies to.' }),
          operator: Str({ description: 'In, NotIn, Exists or DoesNotExist.' }),
          values: Opt(List(Type.String(), { listType: 'atomic' })),
        }),
        { listType: 'atomic', description: 'Set-based requirements, ANDed with matchLabels.' },
      ),
    ),
  },
  {
    mapType: 'atomic',
    description:
      'Selects the nodes this object applies to, by the labels of the Node. Absent or empty selects every node.',
  },
);

// Every ObjectMeta field an API server may return, so that objects exported with `kubectl get -o yaml`
// are not refused for "unknown field metadata.managedFields" and the like.
export const Metadata = Type.Object({
  name: Type.String({ minLength: 1 }),
  generateName: Opt(Type.String()),
  namespace: Opt(Type.String()),
  labels: Opt(StringMap()),
  annotations: Opt(StringMap()),
  uid: Opt(Type.String()),
  resourceVersion: Opt(Type.String()),
  generation: Opt(Type.Integer()),
  creationTimestamp: Opt(Type.String()),
  deletionTimestamp: Opt(Type.String()),
  deletionGracePeriodSeconds: Opt(Type.Integer()),
  selfLink: Opt(Type.String()),
  finalizers: Opt(Type.Array(Type.String())),
  ownerReferences: Opt(Type.Array(FreeForm())),
  managedFields: Opt(Type.Array(FreeForm())),
});
