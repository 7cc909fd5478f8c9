import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runProcess } from '../src/kernel/exec.js';

describe('runProcess', () => {
  test('a large output handed over as it arrives is whole and decoded (multi-byte characters across chunks)', async () => {
    // 3 MB of 1-, 2- and 3-byte characters, printed by a real process in many writes.
    const printer = `for (let i = 0; i < 5000; i++) process.stdout.write('é€x'.repeat(100) + '\\n');
      process.stderr.write('done'); process.exitCode = 3;`;
    const chunks: string[] = [];
    const r = await runProcess(process.execPath, ['-e', printer], '', (c) => chunks.push(c));
    assert.deepEqual(r, { code: 3, stdout: '', stderr: 'done' });
    assert.ok(chunks.length > 1, `${chunks.length} chunk(s)`);
    assert.equal(chunks.join(''), `${'é€x'.repeat(100)}\n`.repeat(5000));
  });

  test('without a consumer the output is returned, with stdin fed', async () => {
    const r = await runProcess('sh', ['-c', 'tr a-z A-Z'], 'hello\n');
    assert.deepEqual(r, { code: 0, stdout: 'HELLO\n', stderr: '' });
  });
});
