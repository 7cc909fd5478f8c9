// Validating admission webhooks, as the API server stand-in calls them: every stored
// ValidatingWebhookConfiguration whose rules match the request is sent an AdmissionReview v1 over
// HTTPS (clientConfig.url, or clientConfig.service through a test-provided resolver), trusting
// clientConfig.caBundle. Denials, failurePolicy (Fail/Ignore) and timeoutSeconds behave like
// kube-apiserver's; matchConditions and matchPolicy: Equivalent are not implemented.
import { randomUUID } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { type LabelSelector, selectorMatches } from '../../api/label-selector.js';
import { isObject, type KObject, labelsOf, str } from './standin-json.js';
import type { ResourceDef } from './standin-resources.js';
import { type StatusDetails, StatusError } from './standin-status.js';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE';

export interface ServiceRef {
  namespace: string;
  name: string;
  port: number;
  path?: string;
}

/** Maps a webhook clientConfig.service to where the test webhook really listens. */
export type ServiceResolver = (svc: ServiceRef) => { host: string; port: number };

export interface AdmissionAttributes {
  def: ResourceDef;
  operation: Operation;
  subResource?: string;
  name: string;
  namespace?: string;
  object?: KObject;
  oldObject?: KObject;
  dryRun: boolean;
  /** Labels of the request's Namespace object (namespaceSelector); {} when it does not exist. */
  namespaceLabels: Record<string, string>;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function resourceMatches(patterns: string[], plural: string, sub: string | undefined): boolean {
  return patterns.some((p) => {
    const [pr, ps] = p.split('/') as [string, string | undefined];
    if (ps === undefined) return sub === undefined && (pr === '*' || pr === plural);
    return (pr === '*' || pr === plural) && sub !== undefined && (ps === '*' || ps === sub);
  });
}

function ruleMatches(rule: KObject, a: AdmissionAttributes): boolean {
  const ops = strings(rule['operations']);
  const groups = strings(rule['apiGroups']);
  const versions = strings(rule['apiVersions']);
  const scope = str(rule['scope']) ?? '*';
  if (!ops.includes('*') && !ops.includes(a.operation)) return false;
  if (!groups.includes('*') && !groups.includes(a.def.group)) return false;
  if (!versions.includes('*') && !versions.includes(a.def.version)) return false;
  if (scope === 'Cluster' && a.def.namespaced) return false;
  if (scope === 'Namespaced' && !a.def.namespaced) return false;
  return resourceMatches(strings(rule['resources']), a.def.plural, a.subResource);
}

function selector(v: unknown): LabelSelector | undefined {
  return isObject(v) ? (v as LabelSelector) : undefined;
}

/** The webhooks of the configurations that apply to this request, in configuration order. */
export function matchingWebhooks(configs: KObject[], a: AdmissionAttributes): KObject[] {
  // Like the real server, webhooks never intercept the admission configuration objects themselves.
  if (a.def.group === 'admissionregistration.k8s.io') return [];
  const out: KObject[] = [];
  for (const cfg of configs) {
    const hooks = Array.isArray(cfg['webhooks']) ? cfg['webhooks'].filter(isObject) : [];
    for (const hook of hooks) {
      const rules = Array.isArray(hook['rules']) ? hook['rules'].filter(isObject) : [];
      if (!rules.some((r) => ruleMatches(r, a))) continue;
      if (a.def.namespaced && !selectorMatches(selector(hook['namespaceSelector']), a.namespaceLabels))
        continue;
      const objSel = selector(hook['objectSelector']);
      if (objSel) {
        const candidates = [a.object, a.oldObject].filter((o): o is KObject => o !== undefined);
        if (!candidates.some((o) => selectorMatches(objSel, labelsOf(o)))) continue;
      }
      out.push(hook);
    }
  }
  return out;
}

interface Target {
  url: URL;
  ca?: string;
  /** For service references: the name the certificate must carry (`<svc>.<ns>.svc`), as kube-apiserver checks it. */
  servername?: string;
}

function targetOf(hook: KObject, resolver: ServiceResolver | undefined, timeoutSeconds: number): Target {
  const cc = isObject(hook['clientConfig']) ? hook['clientConfig'] : {};
  const caB64 = str(cc['caBundle']);
  const ca = caB64 ? Buffer.from(caB64, 'base64').toString('utf8') : undefined;
  let url: URL;
  const direct = str(cc['url']);
  if (direct) url = new URL(direct);
  else if (isObject(cc['service'])) {
    const svc = cc['service'];
    const ref: ServiceRef = {
      namespace: str(svc['namespace']) ?? '',
      name: str(svc['name']) ?? '',
      port: typeof svc['port'] === 'number' ? svc['port'] : 443,
      ...(str(svc['path']) ? { path: str(svc['path'])! } : {}),
    };
    const host = `${ref.name}.${ref.namespace}.svc`;
    if (!resolver) {
      url = new URL(`https://${host}:${ref.port}${ref.path ?? '/'}`);
      url.searchParams.set('timeout', `${timeoutSeconds}s`);
      throw new CallError(
        url,
        `service "${ref.namespace}/${ref.name}" cannot be resolved: the stand-in has no serviceResolver`,
      );
    }
    const to = resolver(ref);
    url = new URL(`https://${to.host}:${to.port}${ref.path ?? '/'}`);
    url.searchParams.set('timeout', `${timeoutSeconds}s`);
    return { url, servername: host, ...(ca ? { ca } : {}) };
  } else {
    throw new Error('webhook has neither clientConfig.url nor clientConfig.service');
  }
  url.searchParams.set('timeout', `${timeoutSeconds}s`);
  return { url, ...(ca ? { ca } : {}) };
}

class CallError extends Error {
  constructor(
    readonly url: URL,
    message: string,
  ) {
    super(message);
  }
}

function post(target: Target, body: string, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    if (target.url.protocol !== 'https:') {
      const scheme = target.url.protocol.replace(':', '');
      reject(new CallError(target.url, `unsupported protocol scheme "${scheme}"`));
      return;
    }
    let settled = false;
    let deadline: NodeJS.Timeout | undefined;
    const settle = (err: Error | undefined, value?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      if (err) reject(err instanceof CallError ? err : new CallError(target.url, err.message));
      else resolve(value);
    };
    const req = httpsRequest(
      target.url,
      {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        ...(target.ca ? { ca: target.ca } : {}),
        // Connect to wherever the resolver says, but check the certificate against the service's DNS
        // name, as kube-apiserver does (SNI + hostname verification).
        ...(target.servername ? { servername: target.servername } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => settle(err));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const code = res.statusCode ?? 0;
          if (code < 200 || code >= 300) {
            settle(new Error(`expected 200 response code, got ${code}: ${text.slice(0, 200)}`));
            return;
          }
          try {
            settle(undefined, JSON.parse(text));
          } catch (err) {
            settle(new Error(`failed to decode the response: ${(err as Error).message}`));
          }
        });
      },
    );
    // timeoutSeconds bounds the whole call, as the real server's request context does.
    deadline = setTimeout(() => {
      settle(new Error('context deadline exceeded'));
      req.destroy();
    }, timeoutMs);
    req.on('error', (err) => settle(err));
    req.end(body);
  });
}

export function admissionReview(a: AdmissionAttributes, uid: string): KObject {
  const gvk = { group: a.def.group, version: a.def.version, kind: a.def.kind };
  const gvr = { group: a.def.group, version: a.def.version, resource: a.def.plural };
  const optionsKind = { CREATE: 'CreateOptions', UPDATE: 'UpdateOptions', DELETE: 'DeleteOptions' }[
    a.operation
  ];
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: gvk,
      resource: gvr,
      ...(a.subResource ? { subResource: a.subResource } : {}),
      requestKind: gvk,
      requestResource: gvr,
      ...(a.subResource ? { requestSubResource: a.subResource } : {}),
      name: a.name,
      ...(a.namespace ? { namespace: a.namespace } : {}),
      operation: a.operation,
      userInfo: { username: 'system:admin', groups: ['system:masters', 'system:authenticated'] },
      object: a.object ?? null,
      oldObject: a.oldObject ?? null,
      dryRun: a.dryRun,
      options: { kind: optionsKind, apiVersion: 'meta.k8s.io/v1' },
    },
  };
}

/** What one webhook said: nothing (allowed), warnings, or a rejection. */
async function callWebhook(
  hook: KObject,
  a: AdmissionAttributes,
  resolver: ServiceResolver | undefined,
): Promise<{ warnings: string[] }> {
  const name = str(hook['name']) ?? '';
  const timeoutSeconds = typeof hook['timeoutSeconds'] === 'number' ? hook['timeoutSeconds'] : 10;
  const failOpen = hook['failurePolicy'] === 'Ignore';
  const uid = randomUUID();
  let target: Target | undefined;
  let answer: unknown;
  try {
    target = targetOf(hook, resolver, timeoutSeconds);
    answer = await post(target, JSON.stringify(admissionReview(a, uid)), timeoutSeconds * 1000);
  } catch (err) {
    if (failOpen) return { warnings: [] };
    const url = err instanceof CallError ? err.url : target?.url;
    const why = `failed calling webhook "${name}": failed to call webhook: Post "${url?.toString() ?? ''}": ${(err as Error).message}`;
    throw StatusError.internal(why);
  }
  const response = isObject(answer) && isObject(answer['response']) ? answer['response'] : undefined;
  if (!response || response['uid'] !== uid) {
    if (failOpen) return { warnings: [] };
    const why = response
      ? `expected response.uid="${uid}", got "${str(response['uid']) ?? ''}"`
      : 'webhook response was absent';
    throw StatusError.internal(`failed calling webhook "${name}": ${why}`);
  }
  const warnings = strings(response['warnings']);
  if (response['allowed'] === true) return { warnings };
  // Denied: apiserver's webhookerrors.ToStatusErr.
  const st = isObject(response['status']) ? response['status'] : {};
  const deniedBy = `admission webhook "${name}" denied the request`;
  const message = str(st['message']);
  const reason = str(st['reason']);
  const text = message
    ? `${deniedBy}: ${message}`
    : reason
      ? `${deniedBy}: ${reason}`
      : `${deniedBy} without explanation`;
  const code = typeof st['code'] === 'number' && st['code'] >= 400 ? st['code'] : 400;
  const details = isObject(st['details']) ? (st['details'] as StatusDetails) : undefined;
  throw new StatusError(code, reason ?? '', text, details);
}

/**
 * Runs the matching validating webhooks (in parallel, like the real server) and throws the first
 * rejection in configuration order. Returns the webhooks' warnings.
 */
export async function runValidatingWebhooks(
  configs: KObject[],
  a: AdmissionAttributes,
  resolver: ServiceResolver | undefined,
): Promise<string[]> {
  const hooks = matchingWebhooks(configs, a);
  const results = await Promise.allSettled(hooks.map((h) => callWebhook(h, a, resolver)));
  const warnings: string[] = [];
  for (const r of results) {
    if (r.status === 'rejected') throw r.reason;
    warnings.push(...r.value.warnings);
  }
  return warnings;
}
