// Golden renders: every scenario renders to exactly the checked-in FRR config and kernel plan.
// Regenerate after an intended change with `UPDATE_GOLDEN=1 make test` and review the diff.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { renderFrr } from '../src/render/frr.js';
import { renderKernel } from '../src/render/kernel.js';
import { goldenDir, loadScenario, scenarioNames } from './support/scenarios.js';

const update = process.env['UPDATE_GOLDEN'] === '1';

function checkGolden(file: string, actual: string): void {
  if (update) {
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  assert.ok(existsSync(file), `${file} is missing: run UPDATE_GOLDEN=1 make test and review it`);
  assert.equal(
    actual,
    readFileSync(file, 'utf8'),
    `${file} differs from the render (UPDATE_GOLDEN=1 to accept)`,
  );
}

describe('golden renders', () => {
  const names = scenarioNames();
  test('there are scenarios', () => assert.ok(names.length >= 8, `only ${names.length} scenarios`));
  for (const name of names) {
    test(name, () => {
      const s = loadScenario(name);
      assert.deepEqual(s.issues, [], 'scenario objects must be valid');
      assert.deepEqual(
        s.result.failures.map((f) => `${f.object.kind}/${f.object.metadata.name}: ${f.message}`),
        [],
        'scenario objects must all apply',
      );
      assert.ok(s.result.config, 'a configuration is produced');
      const frr = renderFrr(s.result.config);
      assert.equal(renderFrr(s.result.config), frr, 'rendering is deterministic');
      checkGolden(join(goldenDir, 'frr', `${name}.conf`), frr);
      checkGolden(
        join(goldenDir, 'kernel', `${name}.json`),
        `${JSON.stringify(renderKernel(s.result.config), null, 2)}\n`,
      );
    });
  }
});
