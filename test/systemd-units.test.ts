// The systemd units of static mode (deploy/systemd): they parse (systemd-analyze verify, with the
// CLI path pointed at this checkout), and their ordering says what docs/static-mode.md promises.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { gate, type Prerequisite } from './support/prereq.js';
import { repoRoot } from './support/scenarios.js';

const unitDir = join(repoRoot, 'deploy', 'systemd');
const units = readdirSync(unitDir).filter((f) => f.endsWith('.service'));

/** `Key=value` lines of one [Section] of a unit file. */
function section(unit: string, name: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current = '';
  for (const raw of readFileSync(join(unitDir, unit), 'utf8').split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || line === '') continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = header[1] ?? '';
      continue;
    }
    if (current !== name) continue;
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

const hasSystemdAnalyze: Prerequisite = () =>
  spawnSync('systemd-analyze', ['--version']).status === 0
    ? undefined
    : 'needs systemd-analyze (Debian package systemd; scripts/install-system-deps.sh installs it)';

describe('systemd units (deploy/systemd)', () => {
  const work = mkdtempSync(join(tmpdir(), 'opr-units-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  test('the three units of static mode are there', () => {
    assert.deepEqual(units.sort(), [
      'openperouter-frr.service',
      'openperouter-reloader.service',
      'openperouter-static.service',
    ]);
  });

  test('every unit passes systemd-analyze verify', gate(hasSystemdAnalyze), () => {
    const cli = join(repoRoot, 'bin', 'openperouter');
    for (const u of units) {
      // The units call the CLI where docs/static-mode.md installs it; verify against this checkout's.
      const text = readFileSync(join(unitDir, u), 'utf8').replaceAll(
        '/opt/openperouter/bin/openperouter',
        cli,
      );
      writeFileSync(join(work, u), text);
    }
    const r = spawnSync('systemd-analyze', ['verify', ...units.map((u) => join(work, u))], {
      encoding: 'utf8',
      cwd: work,
    });
    // Lines about other units of the machine (its own broken units) are not ours to judge.
    const ours = `${r.stdout}${r.stderr}`.split('\n').filter((l) => units.some((u) => l.includes(u)));
    assert.deepEqual(ours, [], ours.join('\n'));
    assert.equal(r.status, 0, r.stderr);
  });

  test('FRR: systemd follows watchfrr through its pid file in the perouter pathspace', () => {
    const svc = section('openperouter-frr.service', 'Service');
    assert.deepEqual(svc.get('Type'), ['forking']);
    assert.deepEqual(svc.get('PIDFile'), ['/var/run/frr/perouter/watchfrr.pid']);
    assert.match(svc.get('ExecStart')?.[0] ?? '', /ip netns exec perouter .*frrinit\.sh start perouter/);
  });

  test('the reloader outlives an FRR restart (Wants, never BindsTo/PartOf) and restarts itself', () => {
    const unit = section('openperouter-reloader.service', 'Unit');
    assert.equal(unit.get('BindsTo'), undefined);
    assert.equal(unit.get('PartOf'), undefined);
    assert.deepEqual(unit.get('Wants'), ['openperouter-frr.service']);
    assert.deepEqual(unit.get('After'), ['openperouter-frr.service']);
    assert.deepEqual(section('openperouter-reloader.service', 'Service').get('Restart'), ['always']);
  });

  test('stopping the agent leaves FRR and the data plane running (KillMode=process, no BindsTo)', () => {
    assert.deepEqual(section('openperouter-static.service', 'Service').get('KillMode'), ['process']);
    assert.equal(section('openperouter-static.service', 'Unit').get('BindsTo'), undefined);
  });

  test('the agent unit runs static mode with flags the CLI has', () => {
    const exec = section('openperouter-static.service', 'Service').get('ExecStart')?.[0] ?? '';
    const flags = exec.match(/--[a-z-]+/g) ?? [];
    const help = execFileSync(join(repoRoot, 'bin', 'openperouter'), ['static', '--help'], {
      encoding: 'utf8',
    });
    for (const f of flags) assert.ok(help.includes(`${f} `), `openperouter static has no ${f}`);
    const reloaderExec = section('openperouter-reloader.service', 'Service').get('ExecStart')?.[0] ?? '';
    const reloaderHelp = execFileSync(join(repoRoot, 'bin', 'openperouter'), ['reloader', '--help'], {
      encoding: 'utf8',
    });
    for (const f of reloaderExec.match(/--[a-z-]+/g) ?? [])
      assert.ok(reloaderHelp.includes(`${f} `), `openperouter reloader has no ${f}`);
  });
});
