import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { JsonArraySplitter, type JsonObject } from '../src/kernel/json-stream.js';
import { parseBatchDump } from '../src/kernel/read.js';

/** Feeds `text` cut at `cuts` (offsets); returns the elements seen and how it ended. */
function split(text: string, cuts: number[] = []) {
  const seen: [number, JsonObject][] = [];
  const splitter = new JsonArraySplitter((i, e) => seen.push([i, e]));
  let from = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    splitter.feed(text.slice(from, cut));
    from = cut;
  }
  splitter.feed(text.slice(from));
  return { seen, end: splitter.end() };
}

// Strings that look like structure: brackets, braces, quotes, backslashes, newlines, non-ASCII.
const nastyString = fc.string({
  unit: fc.constantFrom('a', '[', ']', '{', '}', '"', '\\', ',', '\n', ':', 'é', '€', ' '),
  maxLength: 12,
});
const element = fc.dictionary(
  nastyString,
  fc.oneof(nastyString, fc.integer(), fc.boolean(), fc.array(nastyString, { maxLength: 3 })),
  { maxKeys: 4, noNullPrototype: true },
);

describe('JsonArraySplitter (ip -json -batch output, as it arrives)', () => {
  test('any chunking of the dumps gives every object, in order, with its dump index', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(element, { maxLength: 5 }), { maxLength: 3 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (dumps, rawCuts) => {
          // As iproute2 prints a batch: one array per line (silent writes print nothing).
          const text = dumps.map((d) => `${JSON.stringify(d)}\n`).join('');
          const cuts = rawCuts.map((c) => (text.length === 0 ? 0 : c % text.length));
          const { seen, end } = split(text, cuts);
          assert.deepEqual(end, { arrays: dumps.length });
          assert.deepEqual(
            seen,
            dumps.flatMap((d, i) => d.map((e) => [i, e])),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  test('a bracket that does not start a line is not a dump (text around the dumps is ignored)', () => {
    const { seen, end } = split('warning: [x] {y}\n[{"a":1}]\n');
    assert.deepEqual(end, { arrays: 1 });
    assert.deepEqual(seen, [[0, { a: 1 }]]);
  });

  test('errors are kept for end(), and the input after them ignored', () => {
    assert.match(JSON.stringify(split('[{"a":1},{"b":}]\n').end), /invalid JSON/);
    assert.deepEqual(split('[{"a":1},2]\n').end, { error: 'an element of dump 1 that is not an object' });
    assert.deepEqual(split('[{"a":1},{"b":[').end, { error: 'an unfinished dump' });
    assert.deepEqual(split('[{"a":1}').end, { error: 'an unfinished dump' });
    const late = split('[1]\n[{"a":1}]\n');
    assert.deepEqual(late.seen, []);
    assert.deepEqual(late.end, { error: 'an element of dump 1 that is not an object' });
  });

  test('an error thrown by the consumer is reported, not thrown into the stream', () => {
    const splitter = new JsonArraySplitter(() => {
      throw new Error('boom');
    });
    assert.doesNotThrow(() => splitter.feed('[{"a":1}]\n'));
    assert.deepEqual(splitter.end(), { error: 'boom' });
  });

  test('parseBatchDump names the namespace and what iproute2 printed wrong', () => {
    assert.throws(
      () => parseBatchDump('[{"ifindex":1,"ifname":"lo"}]\n[{"ifindex":', 'namespace perouter'),
      /^KernelReadError: namespace perouter: iproute2 printed an unfinished dump$/,
    );
  });
});
