// The lab's one seeded random module: the same seed gives the same data on any machine and any JS engine (only
// 32-bit integer arithmetic, no Math.random). Rng (sfc32, Chris Doty-Humphrey's Small Fast Counter, 128-bit
// state, seeded through splitmix32) for the task generators and weight init; mulberry32 for the older streams
// (fixtures, probe splits, test inputs); normalSampler, the one normal sampler (Box-Muller) over either.

/** Largest seed the lab accepts (seeds are unsigned 32-bit integers). */
export const MAX_SEED = 0xffffffff;

/** Throws a clear error unless `seed` is an integer in 0..MAX_SEED. */
export function checkSeed(seed: unknown, what = 'seed'): number {
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
    throw new Error(`${what} must be an integer from 0 to ${MAX_SEED}; got ${String(seed)}. Pick a whole number such as 1.`);
  }
  return seed;
}

/** FNV-1a over a string, 32-bit. Used to derive independent streams from (seed, purpose, ...). */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A seed for one purpose, e.g. deriveSeed(seed, 'cipher', 'train'): streams for different purposes do not overlap. */
export function deriveSeed(seed: number, ...parts: (string | number)[]): number {
  return fnv1a(`${checkSeed(seed)}|${parts.join('|')}`);
}

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    const sm = splitmix32(checkSeed(seed));
    this.a = sm();
    this.b = sm();
    this.c = sm();
    this.d = sm();
    // Discard the first outputs: sfc32's early values are correlated with the seed.
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** Next unsigned 32-bit integer. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [lo, hi], both inclusive (rejection sampling: no modulo bias). */
  int(lo: number, hi: number): number {
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi < lo) throw new Error(`Rng.int needs integers lo <= hi; got ${lo}, ${hi}`);
    const span = hi - lo + 1;
    if (span > 4294967296) throw new Error(`Rng.int range too wide: ${span}`);
    const limit = 4294967296 - (4294967296 % span);
    let x = this.u32();
    while (x >= limit) x = this.u32();
    return lo + (x % span);
  }

  /** One element, uniformly. */
  pick<T>(arr: readonly T[]): T {
    if (arr.length === 0) throw new Error('Rng.pick from an empty list');
    return arr[this.int(0, arr.length - 1)] as T;
  }

  /** Fisher-Yates shuffle, in place; returns the same array. */
  shuffle<T>(arr: T[]): T[] {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const tmp = arr[i] as T;
      arr[i] = arr[j] as T;
      arr[j] = tmp;
    }
    return arr;
  }

  /** k distinct positions of arr, in random order (like Python's random.sample). */
  sample<T>(arr: readonly T[], k: number): T[] {
    if (k > arr.length) throw new Error(`Rng.sample: cannot draw ${k} of ${arr.length}`);
    const idx = arr.map((_, i) => i);
    // Partial Fisher-Yates: only the first k slots are needed.
    for (let i = 0; i < k; i++) {
      const j = this.int(i, idx.length - 1);
      const tmp = idx[i] as number;
      idx[i] = idx[j] as number;
      idx[j] = tmp;
    }
    return idx.slice(0, k).map((i) => arr[i] as T);
  }
}

/**
 * mulberry32: a tiny 32-bit generator, kept for streams that existing fixtures and splits were made with
 * (tests/fixtures/*.gguf weights, probe splits, kernel test inputs). New code uses Rng.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Standard normal values from a uniform source in [0, 1): Box-Muller (the cosine half), two uniforms per value, the
 * first kept above 1e-12 so the log stays finite. Used by GPT-2's weight init, the GGUF fixtures and the tests.
 */
export function normalSampler(uniform: () => number): () => number {
  return () => {
    const u = Math.max(uniform(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  };
}
