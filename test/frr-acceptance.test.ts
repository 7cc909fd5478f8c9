// FRR acceptance test of every golden config in test/golden/frr/*.conf (written by the render tests).
// Each golden runs in a fresh FRR 8.4 instance (own netns and daemons) and must pass:
//   (a) `vtysh -C -f` syntax check,
//   (b) a first `frr-reload.py --reload` that succeeds,
//   (c) `frr-reload.py --test` right after reports nothing to add or delete (so a later reload of the
//       same file cannot reset sessions),
//   (d) a second `--reload` that succeeds and leaves `show running-config` unchanged.
// The instance's system hostname is the golden's `hostname` line: FRR 8.4 prints the system
// hostname, and the renderer is expected to emit the hostname of the machine FRR runs on.
// No goldens = nothing accepted = failure.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, describe, test } from 'node:test';
import { acceptFrrConfig, repoRoot, stopAllFrr } from './support/frr-instance.js';
import { gate, hasFrr, isRoot } from './support/prereq.js';

const root = repoRoot();
const goldenDir = join(root, 'test', 'golden', 'frr');
const goldens = existsSync(goldenDir)
  ? readdirSync(goldenDir)
      .filter((f) => f.endsWith('.conf'))
      .sort()
  : [];

test('test/golden/frr holds golden FRR configs to accept', () => {
  assert.ok(
    goldens.length > 0,
    `no *.conf in ${relative(root, goldenDir)} (${existsSync(goldenDir) ? 'empty' : 'missing'}): ` +
      'nothing was accepted by FRR; run the render tests that write the goldens first',
  );
});

describe('FRR 8.4 accepts every golden config and reloads it idempotently', gate(isRoot, hasFrr), () => {
  after(stopAllFrr);

  for (const name of goldens) {
    test(name, async () => {
      const text = readFileSync(join(goldenDir, name), 'utf8');
      const report = await acceptFrrConfig(text, { name: 'accept' });
      if (report.problems.length > 0) {
        assert.fail(
          `test/golden/frr/${name}: ${report.problems.length} problem(s) ` +
            '(see docs/dev/frr-spelling.md for how FRR 8.4 wants each line spelled):\n' +
            report.problems.map((p) => `- ${p.replaceAll('\n', '\n    ')}`).join('\n'),
        );
      }
    });
  }
});
