// A small seeded mutator for resilience tests: it turns valid files into broken ones the way disks, downloads
// and hostile uploads do (bit flips, inserted or lost bytes, truncation, pieces of other files) and writes
// boundary values (0, -1, 2^31, 2^32-1, 2^63...) over integer fields, where length and count checks live.
// The same seed gives the same inputs on every machine, so a failing case is replayed by its seed and index.
// A structural mutator for parsed JSON values sits beside it (wrong types, boundary numbers, deep nesting).
import { Rng } from './rng';

/** Little-endian integer patterns that probe length, count and offset checks (width in bytes). */
export const BOUNDARY_INTS: ReadonlyArray<{ width: 1 | 2 | 4 | 8; value: bigint }> = [
  ...[0n, 1n, 0x7fn, 0x80n, 0xffn].map((value) => ({ width: 1 as const, value })),
  ...[0n, 1n, 0x7fffn, 0x8000n, 0xffffn].map((value) => ({ width: 2 as const, value })),
  ...[0n, 1n, 2n, 3n, 4n, 8n, 0xffn, 0x100n, 0xffffn, 0x7fffffffn, 0x80000000n, 0xfffffffen, 0xffffffffn].map((value) => ({ width: 4 as const, value })),
  ...[0n, 1n, 0xffffffffn, 0x100000000n, 2n ** 31n, 2n ** 40n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n].map(
    (value) => ({ width: 8 as const, value }),
  ),
];

export type MutationKind = 'bitflip' | 'byte' | 'insert' | 'delete' | 'truncate' | 'splice' | 'boundary';
const KINDS: readonly MutationKind[] = ['bitflip', 'byte', 'insert', 'delete', 'truncate', 'splice', 'boundary'];

export interface FuzzCase {
  /** Index of the case in its stream (replay it with the same seed). */
  index: number;
  bytes: Uint8Array;
  /** What was done, e.g. ["bitflip@17.3", "boundary@8:u32=0xffffffff"]: printed when a case fails. */
  ops: string[];
}

export interface MutatorOptions {
  /**
   * Most mutations land in the first `hot` bytes (a file's header, where the parser makes its decisions);
   * the rest anywhere. Default: the whole input.
   */
  hot?: number;
  /** Share of mutations that land in the hot region (default 0.85). */
  hotShare?: number;
  /** At most this many mutations per case, at least one (default 4). */
  maxOps?: number;
}

/** A seeded stream of mutated copies of `corpus` (valid inputs); `next()` gives the next case. */
export class Mutator {
  private readonly rng: Rng;
  private index = 0;

  constructor(
    seed: number,
    private readonly corpus: readonly Uint8Array[],
    private readonly opts: MutatorOptions = {},
  ) {
    if (corpus.length === 0 || corpus.some((c) => c.length === 0))
      throw new Error('Mutator: the corpus must hold at least one non-empty valid input to mutate.');
    this.rng = new Rng(seed);
  }

  next(): FuzzCase {
    const r = this.rng;
    const src = r.pick(this.corpus);
    let b: Uint8Array = src.slice();
    const ops: string[] = [];
    const nOps = r.int(1, Math.max(1, this.opts.maxOps ?? 4));
    for (let k = 0; k < nOps && b.length > 0; k++) {
      const kind = r.pick(KINDS);
      const at = this.position(b.length);
      switch (kind) {
        case 'bitflip': {
          const bit = r.int(0, 7);
          b[at] ^= 1 << bit;
          ops.push(`bitflip@${at}.${bit}`);
          break;
        }
        case 'byte': {
          const v = r.pick([0x00, 0xff, 0x7f, 0x80, 0x22, 0x5c, 0x7b, 0x7d, r.int(0, 255)]); // incl. '"', '\', '{', '}'
          b[at] = v;
          ops.push(`byte@${at}=${v}`);
          break;
        }
        case 'insert': {
          const n = r.pick([1, 1, 2, 4, 8, r.int(1, 64)]);
          const ins = Uint8Array.from({ length: n }, () => r.int(0, 255));
          b = concat(b.subarray(0, at), ins, b.subarray(at));
          ops.push(`insert@${at}+${n}`);
          break;
        }
        case 'delete': {
          const n = Math.min(b.length - at, r.pick([1, 1, 2, 4, 8, r.int(1, 64)]));
          b = concat(b.subarray(0, at), b.subarray(at + n));
          ops.push(`delete@${at}-${n}`);
          break;
        }
        case 'truncate': {
          b = b.slice(0, at);
          ops.push(`truncate@${at}`);
          break;
        }
        case 'splice': {
          // A run of bytes from another (or the same) valid input, pasted over this one.
          const other = r.pick(this.corpus);
          const from = r.int(0, other.length - 1);
          const n = Math.min(r.int(1, 256), other.length - from, b.length - at);
          b.set(other.subarray(from, from + n), at);
          ops.push(`splice@${at}<-${from}+${n}`);
          break;
        }
        case 'boundary': {
          const { width, value } = r.pick(BOUNDARY_INTS);
          // Integer fields are mostly 4- or 8-aligned; sometimes hit an unaligned spot too.
          const pos = r.next() < 0.7 ? at - (at % width) : at;
          writeLE(b, pos, width, value);
          ops.push(`boundary@${pos}:u${width * 8}=0x${value.toString(16)}`);
          break;
        }
      }
    }
    return { index: this.index++, bytes: b, ops };
  }

  private position(len: number): number {
    const hot = Math.min(len, this.opts.hot ?? len);
    if (hot > 0 && this.rng.next() < (this.opts.hotShare ?? 0.85)) return this.rng.int(0, hot - 1);
    return this.rng.int(0, len - 1);
  }
}

/** Writes `value` as a `width`-byte little-endian integer at `pos`, clipped to the array's end. */
export function writeLE(b: Uint8Array, pos: number, width: number, value: bigint): void {
  for (let i = 0; i < width && pos + i < b.length; i++) b[pos + i] = Number((value >> BigInt(8 * i)) & 0xffn);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Values that break naive JSON readers: wrong types, boundary numbers, empty and odd strings, deep nesting. */
function oddValue(r: Rng): unknown {
  return r.pick<() => unknown>([
    () => null,
    () => true,
    () => 0,
    () => -1,
    () => 1.5,
    () => 2 ** 31,
    () => 2 ** 32,
    () => 2 ** 53,
    () => -(2 ** 53),
    () => 1e308,
    () => '',
    () => '__proto__',
    () => '\u0000',
    () => '\ud800', // a lone surrogate
    () => 'x'.repeat(r.int(1, 5000)),
    () => [],
    () => ({}),
    () => JSON.parse('{"__proto__": {"x": 1}, "constructor": 1}'), // own "__proto__" key, as JSON.parse makes it
    () => JSON.parse('['.repeat(2000) + ']'.repeat(2000)), // deep nesting
  ])();
}

/**
 * A structurally mutated deep copy of a JSON value: 1..maxOps times, one random node (object field, array
 * element) is replaced by an odd value, deleted, duplicated or given an extra key. Seeded through `r`.
 */
export function mutateJSON(value: unknown, r: Rng, maxOps = 3): { value: unknown; ops: string[] } {
  let root = structuredClone(value) as unknown;
  const ops: string[] = [];
  const n = r.int(1, maxOps);
  for (let k = 0; k < n; k++) {
    // Walk down a random path, keeping the parent so the node can be replaced.
    const path: (string | number)[] = [];
    let parent: Record<string | number, unknown> | null = null;
    let key: string | number = '';
    let node = root;
    while (node !== null && typeof node === 'object' && r.next() < 0.75) {
      const keys: (string | number)[] = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
      if (keys.length === 0) break;
      key = r.pick(keys);
      parent = node as Record<string | number, unknown>;
      node = parent[key];
      path.push(key);
    }
    const action = r.pick(['replace', 'replace', 'delete', 'extra', 'duplicate'] as const);
    const where = path.join('.') || '(root)';
    if (!parent) {
      root = oddValue(r);
      ops.push(`replace ${where}`);
    } else if (action === 'replace') {
      parent[key] = oddValue(r);
      ops.push(`replace ${where}`);
    } else if (action === 'delete') {
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
      ops.push(`delete ${where}`);
    } else if (action === 'extra') {
      if (Array.isArray(parent)) parent.push(oddValue(r));
      else parent[`extra${r.int(0, 9)}`] = oddValue(r);
      ops.push(`extra beside ${where}`);
    } else {
      if (Array.isArray(parent)) parent.push(structuredClone(node));
      else parent[key] = [node, node];
      ops.push(`duplicate ${where}`);
    }
  }
  return { value: root, ops };
}
