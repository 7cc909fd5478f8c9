// The decision of the validating webhooks, as a pure function of the AdmissionReview request and the
// cluster's current objects and Nodes. The same validators as the controller and static mode:
// validateObject (schema, CEL incl. transition rules, per-object rules, update rules) for the object
// itself, then applyNodeRules for every Node the object selects, over the existing objects with the
// incoming one in place of its stored version. Cross-object problems deny only when the incoming
// object causes them: failures other objects already had are none of this request's business.
import { formatIssue } from '../../api/issues.js';
import { GROUP, isKindName, type KindName, VERSION } from '../../api/kinds.js';
import { toSnapshot } from '../../api/load.js';
import { applyNodeRules, type ObjectFailure, selectForNode } from '../../api/node-rules.js';
import { objectKey, type RoutingObject } from '../../api/types.js';
import { validateObject } from '../../api/validate-object.js';

/** The kinds with a validating webhook, by the lowercase name in the path. */
export const WEBHOOK_KINDS: Record<string, Exclude<KindName, 'RouterNodeConfigurationStatus'>> = {
  underlay: 'Underlay',
  l3vni: 'L3VNI',
  l2vni: 'L2VNI',
  l3passthrough: 'L3Passthrough',
  l3vpn: 'L3VPN',
  rawfrrconfig: 'RawFRRConfig',
};

export const WEBHOOK_PATH_PREFIX = '/validate-openperouter-io-v1alpha1-';

/** `/validate-openperouter-io-v1alpha1-l3vni` -> `L3VNI`. */
export function kindOfPath(path: string): KindName | undefined {
  if (!path.startsWith(WEBHOOK_PATH_PREFIX)) return undefined;
  return WEBHOOK_KINDS[path.slice(WEBHOOK_PATH_PREFIX.length)];
}

export interface AdmissionRequest {
  uid: string;
  kind?: { group?: string; version?: string; kind?: string };
  operation: string;
  name?: string;
  namespace?: string;
  object?: unknown;
  oldObject?: unknown;
  dryRun?: boolean;
}

export interface NodeInfo {
  name: string;
  labels: Record<string, string>;
}

/** What the webhook reads from the cluster: every routing object (all kinds, all namespaces) and the Nodes. */
export interface ClusterState {
  objects: unknown[];
  nodes: NodeInfo[];
}

export interface AdmissionDecision {
  allowed: boolean;
  /** Why it was denied (the API server shows `admission webhook "<name>" denied the request: <message>`). */
  message?: string;
  /** HTTP-like status code of a denial (400 invalid, 403 conflict). */
  code?: number;
  warnings: string[];
}

export interface DecideOptions {
  /** RawFRRConfig objects are honoured only in this namespace (the nodemarker's --namespace). */
  operatorNamespace?: string;
  /** How many node names a message lists before "and N more" (default 3). */
  maxNodesNamed?: number;
}

/** The field a node-rule failure is about, from its message (node rules report objects, not fields). */
export function fieldOfFailure(f: ObjectFailure): string {
  const m = f.message;
  if (m.startsWith('duplicate vni')) return 'spec.vni';
  if (m.startsWith('more than one L3VNI detected in VRF')) return 'spec.vrf';
  if (m.startsWith('overlapping cidrs')) return 'spec.hostSession.localCIDR';
  if (m.startsWith('subnet overlap in VRF'))
    return f.object.kind === 'L2VNI' ? 'spec.gatewayIPs' : 'spec.hostSession.localCIDR';
  if (m.startsWith("can't have more than one")) return 'spec.nodeSelector';
  if (m.startsWith('RawFRRConfig must be created in')) return 'metadata.namespace';
  if (m.startsWith('referenced L3VNI')) return 'spec.routingDomain.l3vni.name';
  if (m.includes('tunnel endpoint') || m.includes('VTEP')) return 'spec.underlayAddressFamily';
  return '';
}

function describe(o: RoutingObject): string {
  return objectKey(o);
}

function sameObject(a: { kind: string; metadata: { name: string; namespace?: string } }, b: RoutingObject) {
  return (
    a.kind === b.kind &&
    a.metadata.name === b.metadata.name &&
    (a.metadata.namespace ?? '') === (b.metadata.namespace ?? '')
  );
}

function failureKey(f: ObjectFailure): string {
  return `${objectKey(f.object)}\u0000${f.reason}\u0000${f.message}`;
}

function nodeList(nodes: string[], max: number): string {
  const shown = nodes.slice(0, max).map((n) => JSON.stringify(n));
  const more = nodes.length > max ? ` and ${nodes.length - max} more` : '';
  return `${nodes.length === 1 ? 'node' : 'nodes'} ${shown.join(', ')}${more}`;
}

const LAST = '\uffff';

/** The incoming object's own ValidationFailed problems on a node when it is ranked after every other. */
function newcomerFailures(
  incoming: RoutingObject,
  existing: RoutingObject[],
  labels: Record<string, string>,
  opts: { operatorNamespace?: string },
): string[] {
  const ns = incoming.metadata.namespace ?? '';
  const last = {
    ...incoming,
    metadata: { ...incoming.metadata, namespace: `${LAST}${ns}` },
  } as RoutingObject;
  return applyNodeRules(selectForNode(toSnapshot([...existing, last]), labels), opts)
    .failures.filter((f) => f.object === last && f.reason === 'ValidationFailed')
    .map((f) => {
      const field = fieldOfFailure(f);
      return `${field ? `${field}: ` : ''}${f.message}`.replaceAll(`${LAST}${ns}`, ns);
    });
}

/** Decides one AdmissionReview request against the cluster state. */
export function decide(
  req: AdmissionRequest,
  state: ClusterState,
  opts: DecideOptions = {},
): AdmissionDecision {
  const maxNodes = opts.maxNodesNamed ?? 3;
  // The registered operations are CREATE and UPDATE; anything else (DELETE, CONNECT) is allowed.
  if (req.operation !== 'CREATE' && req.operation !== 'UPDATE') return { allowed: true, warnings: [] };
  const kind = req.kind?.kind;
  if (req.kind?.group !== GROUP || req.kind.version !== VERSION || !isKindName(kind)) {
    return {
      allowed: false,
      code: 400,
      message: `this webhook validates ${GROUP}/${VERSION} objects, not ${req.kind?.group ?? ''}/${req.kind?.version ?? ''} ${kind ?? ''}`,
      warnings: [],
    };
  }

  // 1. The object alone: schema, CEL (with oldSelf on UPDATE), per-object and update rules.
  const oldRaw = req.operation === 'UPDATE' ? req.oldObject : undefined;
  const oldValid = oldRaw !== undefined && oldRaw !== null ? validateObject(oldRaw).object : undefined;
  // An old version that is invalid on its own (stored before a rule existed) has no transition rules
  // to check against; the API server's CEL transition rules still ran on it.
  const checked = validateObject(req.object, oldValid ? { old: oldValid } : {});
  if (!checked.object) {
    return {
      allowed: false,
      code: 400,
      message: checked.issues.map(formatIssue).join('; '),
      warnings: [],
    };
  }
  const incoming = checked.object;
  // Upstream W25: a RawFRRConfig outside the operator namespace is refused whatever it selects.
  if (
    incoming.kind === 'RawFRRConfig' &&
    opts.operatorNamespace !== undefined &&
    incoming.metadata.namespace !== opts.operatorNamespace
  ) {
    return {
      allowed: false,
      code: 400,
      message: `${objectKey(incoming)}: metadata.namespace: RawFRRConfig must be created in the operator namespace ${JSON.stringify(opts.operatorNamespace)}, got ${JSON.stringify(incoming.metadata.namespace ?? '')}`,
      warnings: [],
    };
  }

  // 2. Per node. Existing objects that are invalid on their own are left out (the controller skips
  // them too); the stored version of the incoming object is replaced by (or, for the baseline, kept as)
  // its old version.
  const existing: RoutingObject[] = [];
  for (const raw of state.objects) {
    const v = validateObject(raw).object;
    if (v && !sameObject(v, incoming)) existing.push(v);
  }
  const baseline = toSnapshot(oldValid ? [...existing, oldValid] : existing);
  const candidate = toSnapshot([...existing, incoming]);
  const nodeRuleOpts =
    opts.operatorNamespace !== undefined ? { operatorNamespace: opts.operatorNamespace } : {};

  const who = describe(incoming);
  const selectedNodes: string[] = [];
  // failure text -> nodes where it happens, kept in first-seen order.
  const denials = new Map<string, string[]>();
  const warnings = new Map<string, string[]>();
  const note = (into: Map<string, string[]>, text: string, node: string) => {
    const nodes = into.get(text) ?? [];
    if (nodes.includes(node)) return;
    nodes.push(node);
    into.set(text, nodes);
  };
  for (const node of state.nodes) {
    const selected = selectForNode(candidate, node.labels);
    const all = [
      ...selected.underlays,
      ...selected.l3vnis,
      ...selected.l2vnis,
      ...selected.l3passthroughs,
      ...selected.l3vpns,
      ...selected.rawFRRConfigs,
    ];
    if (!all.includes(incoming)) continue;
    selectedNodes.push(node.name);
    const baseFailures = applyNodeRules(selectForNode(baseline, node.labels), nodeRuleOpts).failures;
    const before = new Set(baseFailures.map(failureKey));
    // The old version's own failures: an UPDATE that keeps them (e.g. a label change on an object that
    // was already in conflict before the webhook existed) is allowed with a warning.
    const beforeOwn = new Set(
      baseFailures
        .filter((f) => oldValid && sameObject(f.object, oldValid))
        .map((f) => `${f.reason}\u0000${f.message}`),
    );
    const caused: string[] = [];
    for (const f of applyNodeRules(selected, nodeRuleOpts).failures) {
      const field = fieldOfFailure(f);
      const what = `${field ? `${field}: ` : ''}${f.message}`;
      if (sameObject(f.object, incoming)) {
        if (f.reason === 'DependencyFailed') note(warnings, `${who}: not applied yet: ${what}`, node.name);
        else if (beforeOwn.has(`${f.reason}\u0000${f.message}`))
          note(warnings, `${who}: already failing before this change: ${what}`, node.name);
        else note(denials, `${who}: ${what}`, node.name);
        continue;
      }
      if (before.has(failureKey(f))) continue; // not this request's doing
      const text = `${who} makes ${describe(f.object)} fail: ${what}`;
      if (f.reason === 'DependencyFailed') note(warnings, text, node.name);
      else caused.push(text);
    }
    if (caused.length > 0) {
      // The incoming object wins by namespace/name order and the existing one would lose: say it from
      // the newcomer's side (as if it sorted last), which is what the user has to change.
      const own = newcomerFailures(incoming, existing, node.labels, nodeRuleOpts);
      for (const text of own.length > 0 ? own.map((w) => `${who}: ${w}`) : caused)
        note(denials, text, node.name);
    }
  }

  const warningTexts = [...warnings].map(([text, nodes]) => `on ${nodeList(nodes, maxNodes)}: ${text}`);
  if (selectedNodes.length === 0) {
    warningTexts.push(
      `${who} selects no node at the moment: the rules across objects (duplicates, overlaps, one per node) are checked once it does, by the node agents`,
    );
  }
  if (denials.size > 0) {
    const lines = [...denials].map(([text, nodes]) => `on ${nodeList(nodes, maxNodes)}: ${text}`);
    return {
      allowed: false,
      code: 403,
      message: `validation failed ${lines.join('; ')}`,
      warnings: warningTexts,
    };
  }
  return { allowed: true, warnings: warningTexts };
}
