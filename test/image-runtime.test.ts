// What the image ships, run for real without Docker (no daemon on these machines): deploy/Dockerfile keeps
// dist/ and the production dependencies only (`npm prune --omit=dev`). Here the same file set is laid out
// in a temporary directory — package.json, bin/, dist/, and node_modules with exactly the packages
// `npm ls --omit=dev` lists — and every subcommand the chart runs must start from it. A runtime import
// of a dev dependency (a forgotten `dependencies` entry) fails here, not in a cluster.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot } from './support/scenarios.js';

const node = join(repoRoot, 'node_modules', '.bin', 'node');

describe('the image file set (dist + production dependencies only)', () => {
  const root = mkdtempSync(join(tmpdir(), 'opr-image-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  before(() => {
    const prod = execFileSync('npm', ['ls', '--omit=dev', '--parseable', '--all'], {
      cwd: repoRoot,
      encoding: 'utf8',
    })
      .split('\n')
      .filter((p) => p.startsWith(join(repoRoot, 'node_modules')));
    for (const dir of prod) cpSync(dir, join(root, relative(repoRoot, dir)), { recursive: true });
    mkdirSync(join(root, 'dist'));
    for (const d of ['src', 'lab'])
      cpSync(join(repoRoot, 'dist', d), join(root, 'dist', d), { recursive: true });
    cpSync(join(repoRoot, 'bin'), join(root, 'bin'), { recursive: true });
    cpSync(join(repoRoot, 'package.json'), join(root, 'package.json'));
  });

  const run = (...args: string[]) =>
    spawnSync(node, [join(root, 'dist', 'src', 'cli', 'main.js'), ...args], { encoding: 'utf8' });

  test('no dev dependency is in the set (the pinned Node.js, TypeScript, the test libraries)', () => {
    for (const dev of ['typescript', '@biomejs/biome', 'fast-check', 'kubernetes-models', 'node']) {
      assert.equal(
        spawnSync('test', ['-e', join(root, 'node_modules', dev)]).status,
        1,
        `${dev} should not be in the image`,
      );
    }
  });

  for (const cmd of ['controller', 'nodemarker', 'reloader', 'static', 'validate', 'render', 'crds']) {
    test(`openperouter ${cmd} starts from it`, () => {
      const r = run(cmd, '--help');
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
      assert.match(r.stdout, new RegExp(`Usage: openperouter ${cmd}`));
    });
  }

  test('the offline pipeline works from it (validate the bundled example)', () => {
    const r = run('validate', '-f', join(repoRoot, 'examples', 'demo'));
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  });
});
