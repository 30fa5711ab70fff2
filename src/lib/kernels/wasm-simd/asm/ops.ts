// AssemblyScript (not TypeScript): wasm SIMD kernels for GPT-2's lab ops on the wasm backend, built by
// scripts/build-simd.mjs into ../ops-wasm.ts. Each function is the float32 version of its op's reference.ts
// (the JS twin, float64), same formulas, four lanes at a time with a scalar tail of the same operations.
// All arguments are byte offsets into the imported memory (tfjs-wasm's heap on the wasm backend: tensors are
// read and written in place). No static data, no allocator: the caller passes scratch where one is needed.
//
// exp is Cephes' expf (range reduction by ln 2 in two parts, degree-6 polynomial, 2^n through the exponent
// bits): ~1 ulp on the ranges used here, written for f32x4 and repeated for a scalar tail.

const LOG2E: f32 = 1.44269504088896341;
const C1: f32 = 0.693359375;
const C2: f32 = -2.12194440e-4;
const P0: f32 = 1.9875691500e-4;
const P1: f32 = 1.3981999507e-3;
const P2: f32 = 8.3334519073e-3;
const P3: f32 = 4.1665795894e-2;
const P4: f32 = 1.6666665459e-1;
const P5: f32 = 5.0000001201e-1;
const EXP_LO: f32 = -87.0; // below: 0 (the exponent bits would underflow)
const EXP_HI: f32 = 88.0;

// @ts-ignore: decorator
@inline function expv(x0: v128): v128 {
  const lo = f32x4.lt(x0, f32x4.splat(EXP_LO));
  let x = f32x4.min(f32x4.max(x0, f32x4.splat(EXP_LO)), f32x4.splat(EXP_HI));
  const fx = f32x4.floor(f32x4.add(f32x4.mul(x, f32x4.splat(LOG2E)), f32x4.splat(0.5)));
  x = f32x4.sub(f32x4.sub(x, f32x4.mul(fx, f32x4.splat(C1))), f32x4.mul(fx, f32x4.splat(C2)));
  let y = f32x4.splat(P0);
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(P1));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(P2));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(P3));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(P4));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(P5));
  y = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(y, x), x), x), f32x4.splat(1.0));
  const n = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(fx), i32x4.splat(127)), 23);
  return v128.andnot(f32x4.mul(y, n), lo);
}

// @ts-ignore: decorator
@inline function exps(x0: f32): f32 {
  if (x0 < EXP_LO) return 0;
  let x = min(x0, EXP_HI);
  const fx = Mathf.floor(x * LOG2E + 0.5);
  x = x - fx * C1 - fx * C2;
  let y = P0;
  y = y * x + P1;
  y = y * x + P2;
  y = y * x + P3;
  y = y * x + P4;
  y = y * x + P5;
  y = y * x * x + x + 1.0;
  return y * reinterpret<f32>((<i32>fx + 127) << 23);
}

// log of a positive normal float: Cephes' logf (frexp through the bits, degree-8 polynomial). AssemblyScript's
// Mathf.log would bring a lookup table as a data segment, and a data segment is written into the imported memory
// (tfjs-wasm's heap) when the module is instantiated: the build refuses any (scripts/build-simd.mjs).
function logs(x: f32): f32 {
  const bits = reinterpret<u32>(x);
  let e = <f32>(<i32>((bits >> 23) & 0xff) - 126);
  let m = reinterpret<f32>((bits & 0x807fffff) | 0x3f000000); // [0.5, 1)
  if (m < 0.707106781186547524) {
    e -= 1.0;
    m = m + m - 1.0;
  } else {
    m = m - 1.0;
  }
  const z = m * m;
  let y: f32 = 7.0376836292e-2;
  y = y * m - 1.1514610310e-1;
  y = y * m + 1.1676998740e-1;
  y = y * m - 1.2420140846e-1;
  y = y * m + 1.4249322787e-1;
  y = y * m - 1.6668057665e-1;
  y = y * m + 2.0000714765e-1;
  y = y * m - 2.4999993993e-1;
  y = y * m + 3.3333331174e-1;
  y = y * m * z;
  y += C2 * e;
  y -= 0.5 * z;
  return m + y + C1 * e;
}

// ---------------------------------------------------------------------------------------------- GELU
const K: f32 = 0.7978845608028654; // sqrt(2 / pi)
const A: f32 = 0.044715;
const A3: f32 = 0.134145; // 3 A

// tanh(u) = sign(u) (1 - e) / (1 + e), e = exp(-2 |u|)
// @ts-ignore: decorator
@inline function tanhv(u: v128): v128 {
  const e = expv(f32x4.mul(f32x4.abs(u), f32x4.splat(-2.0)));
  const t = f32x4.div(f32x4.sub(f32x4.splat(1.0), e), f32x4.add(f32x4.splat(1.0), e));
  return v128.or(t, v128.and(u, i32x4.splat(0x80000000)));
}

// @ts-ignore: decorator
@inline function tanhs(u: f32): f32 {
  const e = exps(Mathf.abs(u) * -2.0);
  return copysign<f32>((1.0 - e) / (1.0 + e), u);
}

/** y = 0.5 x (1 + tanh(K (x + A x^3))), n values. */
export function gelu(x: usize, y: usize, n: i32): void {
  let i = 0;
  const half = f32x4.splat(0.5), one = f32x4.splat(1.0);
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const v = v128.load(x + o);
    const u = f32x4.mul(f32x4.splat(K), f32x4.add(v, f32x4.mul(f32x4.splat(A), f32x4.mul(v, f32x4.mul(v, v)))));
    v128.store(y + o, f32x4.mul(f32x4.mul(half, v), f32x4.add(one, tanhv(u))));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const v = load<f32>(x + o);
    store<f32>(y + o, 0.5 * v * (1.0 + tanhs(K * (v + A * (v * (v * v))))));
  }
}

/** dx = dy (0.5 (1 + t) + 0.5 x (1 - t^2) K (1 + 3 A x^2)), t = tanh(K (x + A x^3)). */
export function geluGrad(dy: usize, x: usize, dx: usize, n: i32): void {
  let i = 0;
  const half = f32x4.splat(0.5), one = f32x4.splat(1.0), k = f32x4.splat(K);
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const v = v128.load(x + o);
    const v2 = f32x4.mul(v, v);
    const t = tanhv(f32x4.mul(k, f32x4.add(v, f32x4.mul(f32x4.splat(A), f32x4.mul(v, v2)))));
    const dudx = f32x4.mul(k, f32x4.add(one, f32x4.mul(f32x4.splat(A3), v2)));
    const g = f32x4.add(
      f32x4.mul(half, f32x4.add(one, t)),
      f32x4.mul(f32x4.mul(f32x4.mul(half, v), f32x4.sub(one, f32x4.mul(t, t))), dudx),
    );
    v128.store(dx + o, f32x4.mul(v128.load(dy + o), g));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const v = load<f32>(x + o);
    const v2 = v * v;
    const t = tanhs(K * (v + A * (v * v2)));
    const dudx = K * (1.0 + A3 * v2);
    store<f32>(dx + o, load<f32>(dy + o) * (0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * dudx));
  }
}

// ---------------------------------------------------------------------------------------------- helpers
// @ts-ignore: decorator
@inline function hadd(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** sum of C floats at p (four lanes, then the tail) */
function rowSum(p: usize, C: i32): f32 {
  let acc = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= C; i += 4) acc = f32x4.add(acc, v128.load(p + (<usize>i << 2)));
  let s = hadd(acc);
  for (; i < C; i++) s += load<f32>(p + (<usize>i << 2));
  return s;
}

/** dot product of C floats at a and b */
function dot(a: usize, b: usize, C: i32): f32 {
  let acc = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= C; i += 4) {
    const o = <usize>i << 2;
    acc = f32x4.add(acc, f32x4.mul(v128.load(a + o), v128.load(b + o)));
  }
  let s = hadd(acc);
  for (; i < C; i++) s += load<f32>(a + (<usize>i << 2)) * load<f32>(b + (<usize>i << 2));
  return s;
}

/** y[0..C) += a * x[0..C) */
function axpy(y: usize, a: f32, x: usize, C: i32): void {
  const av = f32x4.splat(a);
  let i = 0;
  for (; i + 4 <= C; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, f32x4.add(v128.load(y + o), f32x4.mul(av, v128.load(x + o))));
  }
  for (; i < C; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(y + o) + a * load<f32>(x + o));
  }
}

function zero(p: usize, n: i32): void {
  memory.fill(p, 0, <usize>n << 2);
}

// ---------------------------------------------------------------------------------------------- LayerNorm
// row mean and 1/sqrt(var + eps), two passes as in the reference; the variance is the biased one
let statMean: f32 = 0;
let statRstd: f32 = 0;
function rowStats(p: usize, C: i32, eps: f32): void {
  const m = rowSum(p, C) / <f32>C;
  const mv = f32x4.splat(m);
  let acc = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= C; i += 4) {
    const d = f32x4.sub(v128.load(p + (<usize>i << 2)), mv);
    acc = f32x4.add(acc, f32x4.mul(d, d));
  }
  let v = hadd(acc);
  for (; i < C; i++) {
    const d = load<f32>(p + (<usize>i << 2)) - m;
    v += d * d;
  }
  statMean = m;
  statRstd = 1.0 / Mathf.sqrt(v / <f32>C + eps);
}

/** y = (x - mean) rstd gamma + beta for N rows of C. */
export function layerNorm(x: usize, g: usize, b: usize, y: usize, N: i32, C: i32, eps: f32): void {
  const rb = <usize>C << 2;
  for (let n = 0; n < N; n++) {
    const xr = x + <usize>n * rb, yr = y + <usize>n * rb;
    rowStats(xr, C, eps);
    const m = statMean, s = statRstd;
    const mv = f32x4.splat(m), sv = f32x4.splat(s);
    let i = 0;
    for (; i + 4 <= C; i += 4) {
      const o = <usize>i << 2;
      const xh = f32x4.mul(f32x4.sub(v128.load(xr + o), mv), sv);
      v128.store(yr + o, f32x4.add(f32x4.mul(xh, v128.load(g + o)), v128.load(b + o)));
    }
    for (; i < C; i++) {
      const o = <usize>i << 2;
      store<f32>(yr + o, (load<f32>(xr + o) - m) * s * load<f32>(g + o) + load<f32>(b + o));
    }
  }
}

/**
 * dx = rstd (dy gamma - mean(dy gamma) - xhat mean(dy gamma xhat)); dgamma = sum_rows dy xhat; dbeta = sum_rows dy.
 * Row statistics recomputed.
 */
export function layerNormGrad(dy: usize, x: usize, g: usize, dx: usize, dg: usize, db: usize, N: i32, C: i32, eps: f32): void {
  zero(dg, C);
  zero(db, C);
  const rb = <usize>C << 2;
  for (let n = 0; n < N; n++) {
    const xr = x + <usize>n * rb, dyr = dy + <usize>n * rb, dxr = dx + <usize>n * rb;
    rowStats(xr, C, eps);
    const m = statMean, s = statRstd;
    const mv = f32x4.splat(m), sv = f32x4.splat(s);
    let a1 = f32x4.splat(0), a2 = f32x4.splat(0);
    let i = 0;
    for (; i + 4 <= C; i += 4) {
      const o = <usize>i << 2;
      const xh = f32x4.mul(f32x4.sub(v128.load(xr + o), mv), sv);
      const d = v128.load(dyr + o);
      const dn = f32x4.mul(d, v128.load(g + o));
      a1 = f32x4.add(a1, dn);
      a2 = f32x4.add(a2, f32x4.mul(dn, xh));
      v128.store(dg + o, f32x4.add(v128.load(dg + o), f32x4.mul(d, xh)));
      v128.store(db + o, f32x4.add(v128.load(db + o), d));
    }
    let mean1 = hadd(a1), mean2 = hadd(a2);
    for (let j = i; j < C; j++) {
      const o = <usize>j << 2;
      const xh = (load<f32>(xr + o) - m) * s;
      const d = load<f32>(dyr + o);
      const dn = d * load<f32>(g + o);
      mean1 += dn;
      mean2 += dn * xh;
      store<f32>(dg + o, load<f32>(dg + o) + d * xh);
      store<f32>(db + o, load<f32>(db + o) + d);
    }
    mean1 /= <f32>C;
    mean2 /= <f32>C;
    const m1 = f32x4.splat(mean1), m2 = f32x4.splat(mean2);
    i = 0;
    for (; i + 4 <= C; i += 4) {
      const o = <usize>i << 2;
      const xh = f32x4.mul(f32x4.sub(v128.load(xr + o), mv), sv);
      const dn = f32x4.mul(v128.load(dyr + o), v128.load(g + o));
      v128.store(dxr + o, f32x4.mul(sv, f32x4.sub(f32x4.sub(dn, m1), f32x4.mul(xh, m2))));
    }
    for (; i < C; i++) {
      const o = <usize>i << 2;
      const xh = (load<f32>(xr + o) - m) * s;
      store<f32>(dxr + o, s * (load<f32>(dyr + o) * load<f32>(g + o) - mean1 - xh * mean2));
    }
  }
}

// ---------------------------------------------------------------------------------------------- attention
// q, k, v, y: (B*NH) slices of (T, HS). att: scratch of T floats (forward) or 2T (backward).

/** P[0..t] of row t of one slice into att (softmax of scale q[t].k[s], s <= t). */
function probRow(att: usize, q: usize, k: usize, t: i32, HS: i32, scale: f32): void {
  const rb = <usize>HS << 2;
  const qt = q + <usize>t * rb;
  let m: f32 = -Infinity;
  for (let s = 0; s <= t; s++) {
    const d = dot(qt, k + <usize>s * rb, HS) * scale;
    store<f32>(att + (<usize>s << 2), d);
    m = max(m, d);
  }
  const mv = f32x4.splat(m);
  const n = t + 1;
  let acc = f32x4.splat(0);
  let s = 0;
  for (; s + 4 <= n; s += 4) {
    const o = <usize>s << 2;
    const e = expv(f32x4.sub(v128.load(att + o), mv));
    v128.store(att + o, e);
    acc = f32x4.add(acc, e);
  }
  let sum = hadd(acc);
  for (; s < n; s++) {
    const o = <usize>s << 2;
    const e = exps(load<f32>(att + o) - m);
    store<f32>(att + o, e);
    sum += e;
  }
  const inv = f32x4.splat(1.0 / sum);
  s = 0;
  for (; s + 4 <= n; s += 4) v128.store(att + (<usize>s << 2), f32x4.mul(v128.load(att + (<usize>s << 2)), inv));
  const invs: f32 = 1.0 / sum;
  for (; s < n; s++) store<f32>(att + (<usize>s << 2), load<f32>(att + (<usize>s << 2)) * invs);
}

export function attention(q: usize, k: usize, v: usize, y: usize, BH: i32, T: i32, HS: i32, scale: f32, att: usize): void {
  const rb = <usize>HS << 2;
  const slice = <usize>T * rb;
  for (let bh = 0; bh < BH; bh++) {
    const o = <usize>bh * slice;
    for (let t = 0; t < T; t++) {
      probRow(att, q + o, k + o, t, HS, scale);
      const yt = y + o + <usize>t * rb;
      zero(yt, HS);
      for (let s = 0; s <= t; s++) axpy(yt, load<f32>(att + (<usize>s << 2)), v + o + <usize>s * rb, HS);
    }
  }
}

/**
 * dv[s] += P[t,s] dy[t]; dS = P (dP - dy[t].y[t]) scale with dP[t,s] = dy[t].v[s]; dq[t] += dS k[s]; dk[s] += dS q[t].
 * y is the forward output (sum_s P dP = dy[t].y[t]). Scratch att: T floats.
 */
export function attentionGrad(
  dy: usize, q: usize, k: usize, v: usize, y: usize, dq: usize, dk: usize, dv: usize,
  BH: i32, T: i32, HS: i32, scale: f32, att: usize,
): void {
  const rb = <usize>HS << 2;
  const slice = <usize>T * rb;
  const n = BH * T * HS;
  zero(dq, n);
  zero(dk, n);
  zero(dv, n);
  for (let bh = 0; bh < BH; bh++) {
    const o = <usize>bh * slice;
    for (let t = 0; t < T; t++) {
      probRow(att, q + o, k + o, t, HS, scale);
      const to = o + <usize>t * rb;
      const dyt = dy + to;
      const dotY = dot(dyt, y + to, HS);
      for (let s = 0; s <= t; s++) {
        const so = o + <usize>s * rb;
        const p = load<f32>(att + (<usize>s << 2));
        axpy(dv + so, p, dyt, HS);
        const ds = p * (dot(dyt, v + so, HS) - dotY) * scale;
        axpy(dq + to, ds, k + so, HS);
        axpy(dk + so, ds, q + to, HS);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------- cross-entropy
// logits (N, V), targets i32 (N), weights f32 (N). The caller has checked every weighted row's target is in
// [0, V) (the JS twin throws on one that is not); rows with weight 0 never read theirs.

/** log(sum_j exp(l[j] - m)) + m of one row; m = the row's max */
function rowLogSumExp(p: usize, V: i32): f32 {
  let mv = f32x4.splat(-Infinity);
  let j = 0;
  for (; j + 4 <= V; j += 4) mv = f32x4.max(mv, v128.load(p + (<usize>j << 2)));
  let m = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
  for (; j < V; j++) m = max(m, load<f32>(p + (<usize>j << 2)));
  const ms = f32x4.splat(m);
  let acc = f32x4.splat(0);
  j = 0;
  for (; j + 4 <= V; j += 4) acc = f32x4.add(acc, expv(f32x4.sub(v128.load(p + (<usize>j << 2)), ms)));
  let s = hadd(acc);
  for (; j < V; j++) s += exps(load<f32>(p + (<usize>j << 2)) - m);
  return m + logs(s);
}

/** losses[n] = w[n] (logsumexp(logits[n]) - logits[n, t[n]]), 0 where w[n] = 0. */
export function crossEntropy(logits: usize, targets: usize, weights: usize, losses: usize, N: i32, V: i32): void {
  const rb = <usize>V << 2;
  for (let n = 0; n < N; n++) {
    const w = load<f32>(weights + (<usize>n << 2));
    let l: f32 = 0;
    if (w != 0) {
      const p = logits + <usize>n * rb;
      l = w * (rowLogSumExp(p, V) - load<f32>(p + (<usize>load<i32>(targets + (<usize>n << 2)) << 2)));
    }
    store<f32>(losses + (<usize>n << 2), l);
  }
}

/** dlogits[n, j] = dloss[n] w[n] (softmax(logits[n])[j] - [j == t[n]]), 0 rows where w[n] = 0. */
export function crossEntropyGrad(dloss: usize, logits: usize, targets: usize, weights: usize, dlogits: usize, N: i32, V: i32): void {
  const rb = <usize>V << 2;
  for (let n = 0; n < N; n++) {
    const w = load<f32>(weights + (<usize>n << 2));
    const d = dlogits + <usize>n * rb;
    if (w == 0) {
      zero(d, V);
      continue;
    }
    const p = logits + <usize>n * rb;
    const g = load<f32>(dloss + (<usize>n << 2)) * w;
    const lse = rowLogSumExp(p, V);
    const lv = f32x4.splat(lse), gv = f32x4.splat(g);
    let j = 0;
    for (; j + 4 <= V; j += 4) {
      const o = <usize>j << 2;
      v128.store(d + o, f32x4.mul(gv, expv(f32x4.sub(v128.load(p + o), lv))));
    }
    for (; j < V; j++) {
      const o = <usize>j << 2;
      store<f32>(d + o, g * exps(load<f32>(p + o) - lse));
    }
    const t = <usize>load<i32>(targets + (<usize>n << 2)) << 2;
    store<f32>(d + t, g * (exps(load<f32>(p + t) - lse) - 1.0));
  }
}

// ---------------------------------------------------------------------------------------------- embedding
/** dtable = 0, then dtable[ids[n]] += dy[n] in increasing n; ids outside [0, V) are skipped (the forward refused them). */
export function embeddingGrad(dy: usize, ids: usize, dtable: usize, N: i32, V: i32, C: i32): void {
  zero(dtable, V * C);
  const rb = <usize>C << 2;
  for (let n = 0; n < N; n++) {
    const id = load<i32>(ids + (<usize>n << 2));
    if (id < 0 || id >= V) continue;
    axpy(dtable + <usize>id * rb, 1.0, dy + <usize>n * rb, C);
  }
}
