// Self-test of the FRR test harness (test/support/frr-instance.ts): it starts and cleans up real FRR
// instances, and its acceptance check fails on a syntax error and on a config that does not reload
// idempotently (so test/frr-acceptance.test.ts can fail).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import {
  acceptFrrConfig,
  parseReloadTest,
  reloadErrors,
  repoRoot,
  startFrr,
  stopAllFrr,
} from './support/frr-instance.js';
import { gate, hasFrr, isRoot } from './support/prereq.js';

const run = promisify(execFile);
const fixture = (name: string): string =>
  readFileSync(join(repoRoot(), 'test', 'fixtures', 'frr', name), 'utf8');

describe('frr-reload.py output parsing', () => {
  test('parseReloadTest splits commands and joins their contexts', () => {
    const out = [
      '',
      'Lines To Delete',
      '===============',
      'no hostname vm',
      'router bgp 64514',
      ' no neighbor 192.168.11.2 bfd',
      '',
      'Lines To Add',
      '============',
      'bfd',
      ' profile P',
      '  receive-interval 300',
      'router bgp 64514',
      ' address-family ipv4 unicast',
      '  network 100.65.0.1/32 ',
      'ip forwarding',
      '',
    ].join('\n');
    assert.deepEqual(parseReloadTest(out), {
      toDelete: ['no hostname vm', 'router bgp 64514 > no neighbor 192.168.11.2 bfd'],
      toAdd: [
        'bfd > profile P > receive-interval 300',
        'router bgp 64514 > address-family ipv4 unicast > network 100.65.0.1/32',
        'ip forwarding',
      ],
    });
  });

  test('parseReloadTest of a no-change run is empty', () => {
    assert.deepEqual(parseReloadTest(''), { toAdd: [], toDelete: [] });
  });

  test('reloadErrors keeps the lines that explain a failure', () => {
    const out = [
      '2026-11-22 04:26:25,979  INFO: Called via "Namespace(input=None, reload=True)"',
      "['router bgp 64514\\n',",
      'line 74: Failure to communicate[13] to bgpd, line:  bgp listen range 192.168.0.0/24 peer-group PG',
      '2026-11-22 04:26:25,979 WARNING: frr-reload.py failed due to',
      'vtysh (exec file) exited with status 13',
    ].join('\n');
    assert.deepEqual(reloadErrors(out), [
      'line 74: Failure to communicate[13] to bgpd, line:  bgp listen range 192.168.0.0/24 peer-group PG',
      '2026-11-22 04:26:25,979 WARNING: frr-reload.py failed due to',
      'vtysh (exec file) exited with status 13',
    ]);
  });
});

describe('FRR test instance', gate(isRoot, hasFrr), () => {
  after(stopAllFrr);

  test('starts in its own netns, answers vtysh, and stop() removes everything (idempotently)', async () => {
    const frr = await startFrr({ name: 'selftest', daemons: ['bgpd'] });
    try {
      assert.match(frr.ns, /^oprt-selftest-[0-9a-f]{8}$/);
      const { stdout: netns } = await run('ip', ['netns', 'list']);
      assert.match(netns, new RegExp(`^${frr.ns}\\b`, 'm'));
      assert.equal((await frr.vtysh('show daemons')).trim(), 'zebra bgpd');
      await frr.vtysh('configure terminal', 'router bgp 64999', 'bgp router-id 10.9.9.9');
      assert.match(await frr.runningConfig(), /^router bgp 64999\n bgp router-id 10\.9\.9\.9$/m);
      await assert.rejects(frr.vtysh('show no-such-thing'), /Unknown command/);
    } finally {
      await frr.stop();
    }
    await frr.stop();
    const { stdout: netnsAfter } = await run('ip', ['netns', 'list']);
    assert.doesNotMatch(netnsAfter, new RegExp(`^${frr.ns}\\b`, 'm'));
    assert.equal(existsSync(frr.runDir), false, `${frr.runDir} left behind`);
    assert.equal(existsSync(frr.confDir), false, `${frr.confDir} left behind`);
  });

  test('hostname option: the daemons and vtysh print exactly that hostname', async () => {
    const frr = await startFrr({ name: 'selftest-host', hostname: 'worker-7', daemons: [] });
    try {
      const hostLines = (await frr.runningConfig()).split('\n').filter((l) => l.startsWith('hostname '));
      assert.deepEqual(hostLines, ['hostname worker-7']);
    } finally {
      await frr.stop();
    }
  });

  test('reload, pendingChanges and syntaxCheck work on a private /etc/frr', async () => {
    const frr = await startFrr({ name: 'selftest-reload' });
    try {
      // Without a `hostname` line (spelled as the system hostname) a re-reload wants `no hostname <h>`.
      const host = `hostname ${frr.hostname}\n`;
      const conf = `${host}log file /etc/frr/frr.log informational\nrouter bgp 64514\n bgp router-id 10.0.0.1\nexit\n`;
      assert.equal((await frr.syntaxCheck(conf)).ok, true);
      const r = await frr.reload(conf);
      assert.equal(r.ok, true, r.output);
      assert.ok(existsSync(join(frr.confDir, '..', 'frr.log')), 'log file written in the private /etc/frr');
      const none = await frr.pendingChanges(conf);
      assert.deepEqual([none.toAdd, none.toDelete], [[], []], none.raw);
      const pending = await frr.pendingChanges(`${host}router bgp 64514\n bgp router-id 10.0.0.2\nexit\n`);
      assert.deepEqual(pending.toAdd, ['router bgp 64514 > bgp router-id 10.0.0.2']);
      assert.deepEqual(pending.toDelete, [
        'no log file /etc/frr/frr.log informational',
        'router bgp 64514 > no bgp router-id 10.0.0.1',
      ]);
      const bad = await frr.syntaxCheck('router bgp 64514\n frobnicate\n');
      assert.equal(bad.ok, false);
      assert.match(bad.output, /frobnicate/);
    } finally {
      await frr.stop();
    }
  });

  test('acceptance check passes an idempotent config', async () => {
    const report = await acceptFrrConfig(fixture('idempotent.conf'), { name: 'selftest-ok' });
    assert.deepEqual(report.problems, []);
    assert.match(report.runningConfig, /^router bgp 64515 vrf blue$/m);
  });

  test('acceptance check reports each line FRR prints differently', async () => {
    const report = await acceptFrrConfig(fixture('not-idempotent.conf'), { name: 'selftest-flap' });
    assert.deepEqual(report.problems.toSorted(), [
      '(c) a re-reload would add: bfd > profile P > receive-interval 300',
      '(c) a re-reload would add: log stdout info',
      '(c) a re-reload would add: router bgp 64514 > bgp graceful-restart restart-time 120',
      '(c) a re-reload would add: router bgp 64514 > neighbor 192.168.11.2 ebgp-multihop',
      '(c) a re-reload would delete: no log stdout informational',
      '(c) a re-reload would delete: router bgp 64514 > no neighbor 192.168.11.2 bfd',
      '(c) a re-reload would delete: router bgp 64514 > no neighbor 192.168.11.2 ebgp-multihop 255',
    ]);
  });

  test('acceptance check reports a syntax error with the offending line', async () => {
    const report = await acceptFrrConfig(fixture('syntax-error.conf'), { name: 'selftest-syntax' });
    assert.equal(report.problems.length, 1);
    assert.match(report.problems[0] ?? '', /^\(a\) syntax check .*\nline 6: % Unknown command.*frobnicate/s);
  });

  test('acceptance check catches a vrf stanza misapplied after router bgp', async () => {
    const report = await acceptFrrConfig(fixture('vrf-after-router-bgp.conf'), { name: 'selftest-vrf' });
    assert.ok(
      report.problems.includes('(c) a re-reload would delete: router bgp 64514 > no vrf-policy red'),
      report.problems.join('\n'),
    );
  });
});
