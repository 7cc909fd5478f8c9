// The resources the API server stand-in serves: a fixed set of built-in kinds plus the CRDs read from
// deploy/crds, and the discovery documents (/api, /apis, ...) describing them.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { isObject, type KObject, str } from './standin-json.js';
import type { ResourceNames } from './standin-status.js';

export interface ResourceDef extends ResourceNames {
  /** '' for the core group. */
  group: string;
  version: string;
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  /** Has a `/status` subresource: main-resource writes keep the stored status, `/status` writes only status. */
  status: boolean;
  shortNames: string[];
  /** Served from a CustomResourceDefinition (lists carry item kinds, DELETE returns the object). */
  custom: boolean;
  /** metadata.generation is maintained (bumped when anything but metadata/status changes). */
  generation: boolean;
}

export function apiVersionOf(d: { group: string; version: string }): string {
  return d.group ? `${d.group}/${d.version}` : d.version;
}

/** Storage key shared by every served version of a resource. */
export function storageKey(d: { group: string; plural: string }): string {
  return `${d.group}/${d.plural}`;
}

function builtin(
  group: string,
  version: string,
  kind: string,
  plural: string,
  namespaced: boolean,
  extra: Partial<ResourceDef> = {},
): ResourceDef {
  return {
    group,
    version,
    kind,
    plural,
    singular: kind.toLowerCase(),
    listKind: `${kind}List`,
    namespaced,
    status: false,
    shortNames: [],
    custom: false,
    generation: false,
    ...extra,
  };
}

export const BUILTIN_RESOURCES: readonly ResourceDef[] = [
  builtin('', 'v1', 'Namespace', 'namespaces', false, { status: true, shortNames: ['ns'] }),
  builtin('', 'v1', 'Node', 'nodes', false, { status: true, shortNames: ['no'] }),
  builtin('', 'v1', 'Secret', 'secrets', true),
  builtin('', 'v1', 'ConfigMap', 'configmaps', true, { shortNames: ['cm'] }),
  builtin('', 'v1', 'Event', 'events', true, { shortNames: ['ev'] }),
  builtin('coordination.k8s.io', 'v1', 'Lease', 'leases', true),
  builtin(
    'admissionregistration.k8s.io',
    'v1',
    'ValidatingWebhookConfiguration',
    'validatingwebhookconfigurations',
    false,
    {
      generation: true,
    },
  ),
  builtin('apiextensions.k8s.io', 'v1', 'CustomResourceDefinition', 'customresourcedefinitions', false, {
    status: true,
    shortNames: ['crd', 'crds'],
    generation: true,
  }),
];

/** Finds `deploy/crds` walking up from this module (works from src/ and from dist/src/). */
export function defaultCrdDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'deploy', 'crds');
    if (existsSync(candidate) && existsSync(join(dir, 'package.json'))) return candidate;
    const up = dirname(dir);
    if (up === dir)
      throw new Error('API server stand-in: cannot find deploy/crds above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** Reads every CustomResourceDefinition document of the *.yaml files in `dir`. */
export function loadCrds(dir: string): KObject[] {
  const out: KObject[] = [];
  for (const file of readdirSync(dir).sort()) {
    if (!/\.ya?ml$/.test(file)) continue;
    for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      const v: unknown = doc.toJSON();
      if (isObject(v) && v['kind'] === 'CustomResourceDefinition') out.push(v);
    }
  }
  return out;
}

/** One ResourceDef per served version of a CRD. */
export function resourcesOfCrd(crd: KObject): ResourceDef[] {
  const spec = isObject(crd['spec']) ? crd['spec'] : {};
  const names = isObject(spec['names']) ? spec['names'] : {};
  const group = str(spec['group']) ?? '';
  const kind = str(names['kind']) ?? '';
  const plural = str(names['plural']) ?? '';
  const versions = Array.isArray(spec['versions']) ? spec['versions'] : [];
  return versions.filter(isObject).flatMap((v): ResourceDef[] => {
    if (v['served'] === false) return [];
    const sub = isObject(v['subresources']) ? v['subresources'] : {};
    return [
      {
        group,
        version: str(v['name']) ?? '',
        kind,
        plural,
        singular: str(names['singular']) ?? kind.toLowerCase(),
        listKind: str(names['listKind']) ?? `${kind}List`,
        namespaced: spec['scope'] !== 'Cluster',
        status: isObject(sub['status']),
        shortNames: Array.isArray(names['shortNames'])
          ? names['shortNames'].filter((s) => typeof s === 'string')
          : [],
        custom: true,
        generation: true,
      },
    ];
  });
}

export class ResourceRegistry {
  readonly defs: ResourceDef[];

  constructor(defs: ResourceDef[]) {
    this.defs = defs;
  }

  find(group: string, version: string, plural: string): ResourceDef | undefined {
    return this.defs.find((d) => d.group === group && d.version === version && d.plural === plural);
  }

  /** By `plural`, `plural.group` or kind (first match), for the test helpers. */
  lookup(resource: string): ResourceDef {
    const d = this.defs.find(
      (x) => x.plural === resource || `${x.plural}.${x.group}` === resource || x.kind === resource,
    );
    if (!d) throw new Error(`API server stand-in: unknown resource ${JSON.stringify(resource)}`);
    return d;
  }

  byKind(apiVersion: string, kind: string): ResourceDef | undefined {
    return this.defs.find((d) => apiVersionOf(d) === apiVersion && d.kind === kind);
  }

  groups(): { name: string; versions: string[] }[] {
    const out = new Map<string, string[]>();
    for (const d of this.defs) {
      if (!d.group) continue;
      const versions = out.get(d.group) ?? [];
      if (!versions.includes(d.version)) versions.push(d.version);
      out.set(d.group, versions);
    }
    return [...out].map(([name, versions]) => ({ name, versions }));
  }

  // ---- discovery documents

  apiVersions(serverAddress: string): KObject {
    return {
      kind: 'APIVersions',
      versions: ['v1'],
      serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
    };
  }

  apiGroup(name: string): KObject | undefined {
    const g = this.groups().find((x) => x.name === name);
    if (!g) return undefined;
    const versions = g.versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
    return { kind: 'APIGroup', apiVersion: 'v1', name, versions, preferredVersion: versions[0] };
  }

  apiGroupList(): KObject {
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: this.groups().map((g) => {
        const { kind: _k, apiVersion: _a, ...rest } = this.apiGroup(g.name)!;
        return rest;
      }),
    };
  }

  resourceList(group: string, version: string): KObject | undefined {
    const defs = this.defs.filter((d) => d.group === group && d.version === version);
    if (defs.length === 0) return undefined;
    const verbs = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];
    return {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: apiVersionOf({ group, version }),
      resources: defs.flatMap((d) => [
        {
          name: d.plural,
          singularName: d.singular,
          namespaced: d.namespaced,
          kind: d.kind,
          verbs,
          ...(d.shortNames.length > 0 ? { shortNames: d.shortNames } : {}),
        },
        ...(d.status
          ? [
              {
                name: `${d.plural}/status`,
                singularName: '',
                namespaced: d.namespaced,
                kind: d.kind,
                verbs: ['get', 'patch', 'update'],
              },
            ]
          : []),
      ]),
    };
  }
}
