// RouterNodeConfigurationStatus: per-node health, written by the agent only.
import type { Static } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import { Int64, List, Obj, Opt, Str, StringEnum } from './common.js';

export const FailedResourceKinds = [
  'Underlay',
  'L2VNI',
  'L3VNI',
  'FrrConfiguration',
  'L3Passthrough',
  'L3VPN',
  'RawFRRConfig',
] as const;
export const FailedResourceReasons = [
  'ValidationFailed',
  'DependencyFailed',
  'OverlayAttachmentFailed',
  'FrrConfigurationFailed',
] as const;

export const FailedResource = Obj({
  kind: StringEnum(FailedResourceKinds),
  name: Str({ minLength: 1, maxLength: 253 }),
  reason: StringEnum(FailedResourceReasons, { minLength: 1, maxLength: 100 }),
  message: Str({ minLength: 1, maxLength: 500 }),
});

export const Condition = Obj({
  type: Str({
    maxLength: 316,
    pattern:
      '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
  }),
  status: StringEnum(['True', 'False', 'Unknown']),
  reason: Str({ minLength: 1, maxLength: 1024, pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$' }),
  message: Str({ maxLength: 32768 }),
  lastTransitionTime: Str({ format: 'date-time' }),
  observedGeneration: Opt(Int64({ minimum: 0 })),
});

export const RouterNodeConfigurationStatusStatus = Obj({
  failedResources: Opt(List(FailedResource, { listType: 'atomic' })),
  conditions: Opt(List(Condition, { listType: 'map', listMapKeys: ['type'] })),
});

/** Every routing kind declares an empty status (nothing is ever written there). */
export const EmptyStatus = Type.Object({});

export type FailedResource = Static<typeof FailedResource>;
export type Condition = Static<typeof Condition>;
export type RouterNodeConfigurationStatusStatus = Static<typeof RouterNodeConfigurationStatusStatus>;
