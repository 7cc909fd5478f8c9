// The render of a node is a pure function of its inputs (objects, node facts, options, and the Secret
// passwords it looks up). Most passes of a running agent render the same inputs again: a resync, an event
// about an object of another node, a Node heartbeat. RenderMemo keeps the last render and returns it
// when the inputs are the same, which at 500 VNIs saves the whole resolve (node rules, IPAM) of a no-op
// pass. The appliers still run on the result, so FRR and the kernel are checked as before.

import { createHash } from 'node:crypto';
import type { ApiSnapshot } from '../api/types.js';
import type { KernelPlan } from '../kernel/model.js';
import { renderFrr } from '../render/frr.js';
import { renderKernel } from '../render/kernel.js';
import type { NodeFacts } from '../render/model.js';
import { type NodeResult, type ResolveOptions, resolveNode } from '../render/resolve.js';

export interface RenderedNode {
  result: NodeResult;
  /** Present when the node has a configuration to apply (result.config). */
  frr?: string;
  kernel?: KernelPlan;
}

type SecretLookup = [namespace: string | undefined, name: string, password: string | undefined];

/** Resolve + render, without memory. */
export function renderNode(
  snapshot: ApiSnapshot,
  facts: NodeFacts,
  options: ResolveOptions = {},
): RenderedNode {
  const result = resolveNode(snapshot, facts, options);
  return result.config
    ? { result, frr: renderFrr(result.config), kernel: renderKernel(result.config) }
    : { result };
}

export class RenderMemo {
  private last: { key: string; secrets: SecretLookup[]; value: RenderedNode } | undefined;
  /** Renders answered from memory (for tests and metrics). */
  hits = 0;

  render(snapshot: ApiSnapshot, facts: NodeFacts, options: ResolveOptions = {}): RenderedNode {
    const { secretPassword, ...plain } = options;
    // A digest, not the text: at 500 VNIs the inputs serialise to about a megabyte.
    const key = createHash('sha256')
      .update(JSON.stringify([snapshot, facts, plain]))
      .digest('base64');
    const last = this.last;
    // The Secret passwords are inputs too: the memory holds only while every lookup the last render
    // made still answers the same.
    if (last?.key === key && last.secrets.every(([ns, name, pw]) => secretPassword?.(ns, name) === pw)) {
      this.hits++;
      return last.value;
    }
    const secrets: SecretLookup[] = [];
    const tracked =
      secretPassword === undefined
        ? {}
        : {
            secretPassword: (ns: string | undefined, name: string) => {
              const pw = secretPassword(ns, name);
              secrets.push([ns, name, pw]);
              return pw;
            },
          };
    const value = renderNode(snapshot, facts, { ...plain, ...tracked });
    this.last = { key, secrets, value };
    return value;
  }
}
