// Upstream's composite example (upstream-behaviour.md §5.12, its 2025 output, transcribed in
// test/fixtures/upstream-composite.conf) and our render of the same objects in the current API
// (test/scenarios/composite.yaml) mean the same thing: compared as sets of (context, line), the only
// differences are the deliberate ones listed here, each with its reason.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderFrr } from '../src/render/frr.js';
import { loadScenario, repoRoot } from './support/scenarios.js';

/** Every configuration line keyed by its context (`router bgp 64514 > address-family ipv4 unicast > …`). */
function meaning(text: string): Set<string> {
  const out = new Set<string>();
  const stack: string[] = [];
  const opens = /^(router bgp|vrf |bfd$|profile |address-family |route-map )/;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line === '!') continue;
    if (line === 'exit-address-family' || line === 'exit-vrf' || line === 'exit') {
      stack.pop();
      continue;
    }
    // A new top-level stanza closes whatever was open (upstream leaves `router bgp` unclosed).
    if (/^(router bgp|vrf |bfd$|route-map )/.test(line)) stack.length = 0;
    if (line.startsWith('address-family ') && stack.length > 1) stack.length = 1;
    out.add([...stack, line].join(' > '));
    if (opens.test(line) && !line.startsWith('route-map ')) stack.push(line);
  }
  return out;
}

const ONLY_UPSTREAM: Record<string, string> = {
  'log file /etc/frr/frr.log info':
    'we log to stdout (the agent or container collects it), as upstream does since 2026',
  'router bgp 64514 > address-family l2vpn evpn > advertise-svi-ip':
    'removed upstream in 2026-08: the anycast gateway made nodes evict their own gateway and crashed zebra',
  'bfd > profile neighbor-192.168.11.2 > receive-interval 300':
    "equal to bfdd's default, so FRR never prints it back",
};
const ONLY_OURS: Record<string, string> = {
  'frr defaults traditional': 'pins the defaults profile so the running config is predictable',
  'log stdout informational': 'see log file above',
  'router bgp 64514 > neighbor 192.168.11.2 bfd':
    'FRR prints `bfd` with `bfd profile`; without it every reload flaps the session',
  'router bgp 64514 > neighbor 192.169.50.3 timers connect 5':
    'fast reconnect of the host speaker, as upstream does since 2026',
};

test('the composite example renders with the same meaning as upstream', () => {
  const s = loadScenario('composite');
  assert.ok(s.result.config);
  const ours = meaning(renderFrr(s.result.config));
  const upstream = meaning(
    readFileSync(join(repoRoot, 'test', 'fixtures', 'upstream-composite.conf'), 'utf8'),
  );
  const onlyUpstream = [...upstream].filter((l) => !ours.has(l)).sort();
  const onlyOurs = [...ours].filter((l) => !upstream.has(l)).sort();
  assert.deepEqual(onlyUpstream, Object.keys(ONLY_UPSTREAM).sort());
  assert.deepEqual(onlyOurs, Object.keys(ONLY_OURS).sort());
  assert.ok(ours.has('router bgp 64514 vrf red > address-family ipv4 unicast > network 192.169.10.3/32'));
});
