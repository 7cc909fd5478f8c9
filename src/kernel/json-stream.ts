// Splits the standard output of `ip -json -batch` (a sequence of JSON arrays of objects, one per
// dump command, each starting a line) into its objects as the text arrives, and parses each object on
// its own. A dump of a large namespace is several MB of text (9 MB at 500 VNIs); parsed whole, the text,
// and the full parse of every object (≈ 7 MB of heap) would all exist at once, and in the old
// generation. Here only one chunk and one object are alive at a time, and they die young.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const COMMA = 0x2c;
const NEWLINE = 0x0a;

function isSpace(c: number): boolean {
  return c === 0x20 || c === NEWLINE || c === 0x0d || c === 0x09;
}

export type JsonObject = Record<string, unknown>;

/**
 * Incremental splitter. Text outside the arrays is ignored, except that an array must open at the start
 * of a line (as iproute2 prints them). The first error (invalid JSON, an element that is not an object,
 * an array left open) is kept and reported by `end()`; input after it is ignored, so `feed` never throws
 * (it runs in a stream's data handler). Errors read after "printed": `invalid JSON (...)`, `an unfinished dump`.
 */
export class JsonArraySplitter {
  /** Arrays opened so far. */
  arrays = 0;
  private buffer = '';
  /** Where scanning resumes in `buffer`. */
  private position = 0;
  /** 0: between arrays; 1: inside an array, between elements; ≥ 2: inside an element. */
  private depth = 0;
  private inString = false;
  private atLineStart = true;
  /** Offset in `buffer` of the element being scanned. */
  private elementStart = 0;
  private error: string | undefined;

  /** `onElement(arrayIndex, object)`: called for each element, in order (arrayIndex from 0). */
  constructor(private readonly onElement: (arrayIndex: number, element: JsonObject) => void) {}

  feed(chunk: string): void {
    if (this.error !== undefined || chunk.length === 0) return;
    this.buffer = this.buffer.length === 0 ? chunk : this.buffer + chunk;
    const text = this.buffer;
    const n = text.length;
    let i = this.position;
    for (; i < n && this.error === undefined; i++) {
      if (this.inString) {
        // Jump to the closing quote: one not preceded by an odd number of backslashes. The whole
        // element so far is in `text`, so the backslashes are too, whatever the chunking.
        const quote = text.indexOf('"', i);
        if (quote < 0) {
          i = n;
          break;
        }
        let backslashes = 0;
        while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
        if (backslashes % 2 === 0) this.inString = false;
        i = quote;
        continue;
      }
      const c = text.charCodeAt(i);
      if (this.depth === 0) {
        if (c === OPEN_BRACKET && this.atLineStart) {
          this.depth = 1;
          this.arrays++;
        }
        this.atLineStart = c === NEWLINE;
        continue;
      }
      if (this.depth === 1) {
        if (c === OPEN_BRACE) {
          this.depth = 2;
          this.elementStart = i;
        } else if (c === CLOSE_BRACKET) {
          this.depth = 0;
          this.atLineStart = false;
        } else if (c !== COMMA && !isSpace(c)) {
          this.error = `an element of dump ${this.arrays} that is not an object`;
        }
        continue;
      }
      if (c === QUOTE) this.inString = true;
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) this.depth++;
      else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        this.depth--;
        if (this.depth === 1) this.element(text.slice(this.elementStart, i + 1));
      }
    }
    // Keep only the unfinished element (if any) for the next chunk.
    if (this.depth >= 2) {
      this.buffer = text.slice(this.elementStart);
      this.position = i - this.elementStart;
      this.elementStart = 0;
    } else {
      this.buffer = '';
      this.position = 0;
    }
  }

  /** Checks the input ended between arrays; returns the number of arrays, or an error message. */
  end(): { arrays: number } | { error: string } {
    if (this.error === undefined && this.depth !== 0) this.error = 'an unfinished dump';
    return this.error === undefined ? { arrays: this.arrays } : { error: this.error };
  }

  private element(text: string): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      this.error = `invalid JSON (${(e as Error).message})`;
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.error = `an element of dump ${this.arrays} that is not an object`;
      return;
    }
    try {
      this.onElement(this.arrays - 1, value as JsonObject);
    } catch (e) {
      this.error = e instanceof Error ? e.message : String(e);
    }
  }
}
