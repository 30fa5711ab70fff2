// AssemblyScript (not TypeScript): the wasm SIMD quantized matmul, built by scripts/build-qdot.mjs into
// ../qdot-wasm.ts. y[m, n] = sum_k x[m, k] W[n, k] with W in GGUF blocks (Q8_0, Q4_0, Q4_K, Q6_K) and x
// quantized once per call to int8: per 32 values with an f32 scale for Q8_0/Q4_0 weights, per 256 values with
// an f32 scale and per-32 sums for the K-quants (llama.cpp's Q8_0 / Q8_K idea). Integer dot products per
// block, then one float multiply-add per block (per 256 for K-quants), in a fixed order: the JS twin
// (../int8.ts) does the same float32 operations and gets the same bits.
//
// The module imports its memory: on the wasm backend it is tfjs-wasm's own heap, so weights, x and y are read
// and written in place (no copy of the weights). Nothing here has static data or allocates: the caller passes a
// scratch area of scratchBytes(M, K) bytes.
//
// SIMD: weights that are unsigned (4- and 6-bit quants before their offset) meet x through udot: with relaxed
// SIMD (built as a second variant, --enable relaxed-simd) one i16x8.relaxed_dot_i8x16_i7x16_s (pmaddubsw on
// x86), whose result is fully defined here because the unsigned side is below 128 and no pair sum reaches
// 2^15; without it the products are widened to i16 (extmul). Either way a few products are summed per i16 lane
// (bounded below each use so they cannot overflow), then i32x4.dot_i16x8_s applies a sub-block's scale while
// widening to i32. Offsets (Q4_0's 8, Q6_K's 32) and Q4_K's mins are taken out afterwards through the sums of x
// per 16 values. All integer sums are exact, so their grouping changes nothing.

const Q8_0: i32 = 0;
const Q4_0: i32 = 1;
const Q4_K: i32 = 2;
const Q6_K: i32 = 3;

// @ts-ignore: decorator
@inline function f16(h: u32): f32 {
  // exponent/mantissa moved into f32 position, rescaled by 2^112: exact for normals, subnormals and zero
  let f = reinterpret<f32>((h & 0x7fff) << 13) * 5.192296858534828e33;
  if ((h & 0x7c00) == 0x7c00) f = reinterpret<f32>(0x7f800000 | ((h & 0x3ff) << 13));
  return reinterpret<f32>(reinterpret<u32>(f) | ((h & 0x8000) << 16));
}

// @ts-ignore: decorator
@inline function hsum(v: v128): i32 {
  return i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1) + i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3);
}

// sum over 16 lanes of a*b as 4 i32 lanes; |a*b| <= 16384 so two products per i16 lane fit
// @ts-ignore: decorator
@inline function dot16(a: v128, b: v128): v128 {
  return i32x4.extadd_pairwise_i16x8_s(i16x8.add(i16x8.extmul_low_i8x16_s(a, b), i16x8.extmul_high_i8x16_s(a, b)));
}

// u (each lane in 0..127) times x (int8): two products per i16 lane, |u * x| <= 127 * 127
// @ts-ignore: decorator
@inline function udot(u: v128, x: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i16x8.relaxed_dot_i8x16_i7x16_s(x, u);
  return i16x8.add(i16x8.extmul_low_i8x16_s(u, x), i16x8.extmul_high_i8x16_s(u, x));
}

/** Bytes of scratch for M rows of K values: int8 values, an f32 scale per 32, an i16 sum per 16. */
export function scratchBytes(M: i32, K: i32): i32 {
  return M * K + (M * K >> 3) + (M * K >> 3);
}

// Offsets inside scratch: qx (M*K int8), then dx (f32, one per 32 values), then bs (i16, one per 16 values,
// |sum| <= 16 * 127). For K-quant weights only dx[0], dx[8], ... are used (one scale per 256).

/** Quantize x [M, K] (f32 at x) into scratch: blocks of 32 (fmt Q8_0/Q4_0) or 256 (Q4_K/Q6_K). */
export function quantize(fmt: i32, x: usize, M: i32, K: i32, scratch: usize): void {
  const n = M * K;
  const qx = scratch, dx = scratch + <usize>n, bs = dx + <usize>(n >> 3);
  const B: i32 = fmt == Q4_K || fmt == Q6_K ? 256 : 32;
  for (let b = 0; b < n; b += B) {
    let vmax = f32x4.splat(0);
    for (let i = 0; i < B; i += 4) vmax = f32x4.max(vmax, f32x4.abs(v128.load(x + (<usize>(b + i) << 2))));
    const amax = max(max(f32x4.extract_lane(vmax, 0), f32x4.extract_lane(vmax, 1)), max(f32x4.extract_lane(vmax, 2), f32x4.extract_lane(vmax, 3)));
    const d: f32 = amax / 127;
    const id: f32 = d != 0 ? <f32>1 / d : 0;
    store<f32>(dx + (<usize>(b >> 5) << 2), d);
    for (let j = 0; j < B; j += 16) {
      let s: i32 = 0;
      for (let i = 0; i < 16; i++) {
        let q = <i32>nearest<f32>(load<f32>(x + (<usize>(b + j + i) << 2)) * id);
        q = q > 127 ? 127 : q < -127 ? -127 : q;
        store<i8>(qx + <usize>(b + j + i), <i8>q);
        s += q;
      }
      store<i16>(bs + (<usize>((b + j) >> 4) << 1), <i16>s);
    }
  }
}

function dotQ8_0(w: usize, qx: usize, dx: usize, K: i32): f32 {
  let sum: f32 = 0;
  for (let b = 0; b < K; b += 32, w += 34) {
    const d = f16(<u32>load<u16>(w));
    const x = qx + <usize>b;
    const acc = i32x4.add(dot16(v128.load(w + 2), v128.load(x)), dot16(v128.load(w + 18), v128.load(x + 16)));
    sum += (d * load<f32>(dx + (<usize>(b >> 5) << 2))) * <f32>hsum(acc);
  }
  return sum;
}

function dotQ4_0(w: usize, qx: usize, dx: usize, bs: usize, K: i32): f32 {
  let sum: f32 = 0;
  const m4 = i8x16.splat(15), one = i16x8.splat(1);
  for (let b = 0; b < K; b += 32, w += 18) {
    const d = f16(<u32>load<u16>(w));
    const v = v128.load(w + 2), x = qx + <usize>b;
    // sum of q * x with q in 0..15: four products per i16 lane, <= 4 * 15 * 127; then minus 8 * sum(x)
    const s = i16x8.add(udot(v128.and(v, m4), v128.load(x)), udot(i8x16.shr_u(v, 4), v128.load(x + 16)));
    const sb = bs + (<usize>(b >> 4) << 1);
    const isum = hsum(i32x4.dot_i16x8_s(s, one)) - 8 * (<i32>load<i16>(sb) + <i32>load<i16>(sb + 2));
    sum += (d * load<f32>(dx + (<usize>(b >> 5) << 2))) * <f32>isum;
  }
  return sum;
}

function dotQ4_K(w: usize, qx: usize, dx: usize, bs: usize, K: i32): f32 {
  let sum: f32 = 0;
  const m4 = i8x16.splat(15);
  for (let b = 0; b < K; b += 256, w += 144) {
    const d = f16(<u32>load<u16>(w)), dmin = f16(<u32>load<u16>(w + 2));
    const s = w + 4;
    let acc = i32x4.splat(0);
    let summ: i32 = 0;
    for (let c = 0; c < 4; c++) {
      const j0 = 2 * c, j1 = j0 + 1;
      let sc0: i32, m0: i32, sc1: i32, m1: i32;
      if (c < 2) {
        sc0 = load<u8>(s + j0) & 63; m0 = load<u8>(s + j0 + 4) & 63;
        sc1 = load<u8>(s + j1) & 63; m1 = load<u8>(s + j1 + 4) & 63;
      } else {
        sc0 = (load<u8>(s + j0 + 4) & 0xf) | ((load<u8>(s + j0 - 4) >> 6) << 4);
        m0 = (load<u8>(s + j0 + 4) >> 4) | ((load<u8>(s + j0) >> 6) << 4);
        sc1 = (load<u8>(s + j1 + 4) & 0xf) | ((load<u8>(s + j1 - 4) >> 6) << 4);
        m1 = (load<u8>(s + j1 + 4) >> 4) | ((load<u8>(s + j1) >> 6) << 4);
      }
      const q = w + 16 + <usize>(32 * c), x = qx + <usize>(b + 64 * c);
      const v0 = v128.load(q), v1 = v128.load(q + 16);
      // nibble * x <= 15 * 127: four products per i16 lane fit
      const lo = i16x8.add(udot(v128.and(v0, m4), v128.load(x)), udot(v128.and(v1, m4), v128.load(x + 16)));
      const hi = i16x8.add(udot(i8x16.shr_u(v0, 4), v128.load(x + 32)), udot(i8x16.shr_u(v1, 4), v128.load(x + 48)));
      acc = i32x4.add(acc, i32x4.dot_i16x8_s(lo, i16x8.splat(<i16>sc0)));
      acc = i32x4.add(acc, i32x4.dot_i16x8_s(hi, i16x8.splat(<i16>sc1)));
      const sb = bs + (<usize>((b >> 4) + 2 * j0) << 1);
      summ += m0 * (<i32>load<i16>(sb) + <i32>load<i16>(sb + 2)) + m1 * (<i32>load<i16>(sb + 4) + <i32>load<i16>(sb + 6));
    }
    const dxb = load<f32>(dx + (<usize>(b >> 5) << 2));
    sum += (d * dxb) * <f32>hsum(acc) - (dmin * dxb) * <f32>summ;
  }
  return sum;
}

function dotQ6_K(w: usize, qx: usize, dx: usize, bs: usize, K: i32): f32 {
  let sum: f32 = 0;
  const m4 = i8x16.splat(15), m30 = i8x16.splat(0x30);
  for (let b = 0; b < K; b += 256, w += 210) {
    const d = f16(<u32>load<u16>(w + 208));
    let acc = i32x4.splat(0);
    for (let h = 0; h < 2; h++) {
      const ql = w + <usize>(64 * h), qh = w + 128 + <usize>(32 * h), sc = w + 192 + <usize>(8 * h);
      const x = qx + <usize>(b + 128 * h);
      for (let is = 0; is < 2; is++) {
        const o = <usize>(16 * is);
        const a = v128.load(ql + o), c = v128.load(ql + 32 + o), hb = v128.load(qh + o);
        // the 6-bit values, 0..63 (their offset of 32 is taken out below)
        const q1 = v128.or(v128.and(a, m4), v128.and(i8x16.shl(hb, 4), m30));
        const q2 = v128.or(v128.and(c, m4), v128.and(i8x16.shl(hb, 2), m30));
        const q3 = v128.or(i8x16.shr_u(a, 4), v128.and(hb, m30));
        const q4 = v128.or(i8x16.shr_u(c, 4), v128.and(i8x16.shr_u(hb, 2), m30));
        const xo = x + o;
        // two products per i16 lane (<= 2 * 63 * 127), times the sub-block's int8 scale while widening
        acc = i32x4.add(acc, i32x4.dot_i16x8_s(udot(q1, v128.load(xo)), i16x8.splat(<i16>load<i8>(sc + is))));
        acc = i32x4.add(acc, i32x4.dot_i16x8_s(udot(q2, v128.load(xo + 32)), i16x8.splat(<i16>load<i8>(sc + is + 2))));
        acc = i32x4.add(acc, i32x4.dot_i16x8_s(udot(q3, v128.load(xo + 64)), i16x8.splat(<i16>load<i8>(sc + is + 4))));
        acc = i32x4.add(acc, i32x4.dot_i16x8_s(udot(q4, v128.load(xo + 96)), i16x8.splat(<i16>load<i8>(sc + is + 6))));
      }
    }
    // minus 32 * sum over sub-blocks of scale * (sum of x): scales 0..15 are in value order, 16 values each,
    // as are the i16 sums of x
    const sc16 = v128.load(w + 192), xs = bs + (<usize>(b >> 4) << 1);
    const off = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(sc16), v128.load(xs)), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(sc16), v128.load(xs + 16)));
    sum += (d * load<f32>(dx + (<usize>(b >> 5) << 2))) * <f32>(hsum(acc) - 32 * hsum(off));
  }
  return sum;
}

// ---- four rows of x at once (prefill): each weight block is loaded (and unpacked) once for four dot products. Per row the
// integer sums and the float operations are exactly those of the one-row functions above.

// @ts-ignore: decorator
@inline function q4kChunk(acc: v128, l0: v128, l1: v128, h0: v128, h1: v128, x: usize, s0: v128, s1: v128): v128 {
  const lo = i16x8.add(udot(l0, v128.load(x)), udot(l1, v128.load(x + 16)));
  const hi = i16x8.add(udot(h0, v128.load(x + 32)), udot(h1, v128.load(x + 48)));
  return i32x4.add(i32x4.add(acc, i32x4.dot_i16x8_s(lo, s0)), i32x4.dot_i16x8_s(hi, s1));
}

// @ts-ignore: decorator
@inline function mins(bs: usize, m0: i32, m1: i32): i32 {
  return m0 * (<i32>load<i16>(bs) + <i32>load<i16>(bs + 2)) + m1 * (<i32>load<i16>(bs + 4) + <i32>load<i16>(bs + 6));
}

/** Rows m..m+3 of x (int8 at qx, stride K; scales at dx, stride dxs bytes; sums at bs, stride bss bytes). */
function dotQ4_K4(w: usize, qx: usize, dx: usize, bs: usize, K: i32, dxs: usize, bss: usize, y: usize, ys: usize): void {
  let sum0: f32 = 0, sum1: f32 = 0, sum2: f32 = 0, sum3: f32 = 0;
  const m4 = i8x16.splat(15), xs = <usize>K;
  for (let b = 0; b < K; b += 256, w += 144) {
    const d = f16(<u32>load<u16>(w)), dmin = f16(<u32>load<u16>(w + 2));
    const s = w + 4;
    let acc0 = i32x4.splat(0), acc1 = i32x4.splat(0), acc2 = i32x4.splat(0), acc3 = i32x4.splat(0);
    let mm0: i32 = 0, mm1: i32 = 0, mm2: i32 = 0, mm3: i32 = 0;
    for (let c = 0; c < 4; c++) {
      const j0 = 2 * c, j1 = j0 + 1;
      let sc0: i32, m0: i32, sc1: i32, m1: i32;
      if (c < 2) {
        sc0 = load<u8>(s + j0) & 63; m0 = load<u8>(s + j0 + 4) & 63;
        sc1 = load<u8>(s + j1) & 63; m1 = load<u8>(s + j1 + 4) & 63;
      } else {
        sc0 = (load<u8>(s + j0 + 4) & 0xf) | ((load<u8>(s + j0 - 4) >> 6) << 4);
        m0 = (load<u8>(s + j0 + 4) >> 4) | ((load<u8>(s + j0) >> 6) << 4);
        sc1 = (load<u8>(s + j1 + 4) & 0xf) | ((load<u8>(s + j1 - 4) >> 6) << 4);
        m1 = (load<u8>(s + j1 + 4) >> 4) | ((load<u8>(s + j1) >> 6) << 4);
      }
      const q = w + 16 + <usize>(32 * c), x = qx + <usize>(b + 64 * c);
      const v0 = v128.load(q), v1 = v128.load(q + 16);
      const l0 = v128.and(v0, m4), l1 = v128.and(v1, m4), h0 = i8x16.shr_u(v0, 4), h1 = i8x16.shr_u(v1, 4);
      const s0 = i16x8.splat(<i16>sc0), s1 = i16x8.splat(<i16>sc1);
      acc0 = q4kChunk(acc0, l0, l1, h0, h1, x, s0, s1);
      acc1 = q4kChunk(acc1, l0, l1, h0, h1, x + xs, s0, s1);
      acc2 = q4kChunk(acc2, l0, l1, h0, h1, x + 2 * xs, s0, s1);
      acc3 = q4kChunk(acc3, l0, l1, h0, h1, x + 3 * xs, s0, s1);
      const sb = bs + (<usize>((b >> 4) + 2 * j0) << 1);
      mm0 += mins(sb, m0, m1); mm1 += mins(sb + bss, m0, m1); mm2 += mins(sb + 2 * bss, m0, m1); mm3 += mins(sb + 3 * bss, m0, m1);
    }
    const db = dx + (<usize>(b >> 5) << 2);
    let dxb = load<f32>(db);
    sum0 += (d * dxb) * <f32>hsum(acc0) - (dmin * dxb) * <f32>mm0;
    dxb = load<f32>(db + dxs);
    sum1 += (d * dxb) * <f32>hsum(acc1) - (dmin * dxb) * <f32>mm1;
    dxb = load<f32>(db + 2 * dxs);
    sum2 += (d * dxb) * <f32>hsum(acc2) - (dmin * dxb) * <f32>mm2;
    dxb = load<f32>(db + 3 * dxs);
    sum3 += (d * dxb) * <f32>hsum(acc3) - (dmin * dxb) * <f32>mm3;
  }
  store<f32>(y, sum0); store<f32>(y + ys, sum1); store<f32>(y + 2 * ys, sum2); store<f32>(y + 3 * ys, sum3);
}

// @ts-ignore: decorator
@inline function q6kQuad(acc: v128, q1: v128, q2: v128, q3: v128, q4: v128, x: usize, s1: v128, s2: v128, s3: v128, s4: v128): v128 {
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(udot(q1, v128.load(x)), s1));
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(udot(q2, v128.load(x + 32)), s2));
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(udot(q3, v128.load(x + 64)), s3));
  return i32x4.add(acc, i32x4.dot_i16x8_s(udot(q4, v128.load(x + 96)), s4));
}

// @ts-ignore: decorator
@inline function q6kOffset(lo: v128, hi: v128, xs: usize): i32 {
  return hsum(i32x4.add(i32x4.dot_i16x8_s(lo, v128.load(xs)), i32x4.dot_i16x8_s(hi, v128.load(xs + 16))));
}

function dotQ6_K4(w: usize, qx: usize, dx: usize, bs: usize, K: i32, dxs: usize, bss: usize, y: usize, ys: usize): void {
  let sum0: f32 = 0, sum1: f32 = 0, sum2: f32 = 0, sum3: f32 = 0;
  const m4 = i8x16.splat(15), m30 = i8x16.splat(0x30), xs = <usize>K;
  for (let b = 0; b < K; b += 256, w += 210) {
    const d = f16(<u32>load<u16>(w + 208));
    let acc0 = i32x4.splat(0), acc1 = i32x4.splat(0), acc2 = i32x4.splat(0), acc3 = i32x4.splat(0);
    for (let h = 0; h < 2; h++) {
      const ql = w + <usize>(64 * h), qh = w + 128 + <usize>(32 * h), sc = w + 192 + <usize>(8 * h);
      const x = qx + <usize>(b + 128 * h);
      for (let is = 0; is < 2; is++) {
        const o = <usize>(16 * is);
        const a = v128.load(ql + o), c = v128.load(ql + 32 + o), hb = v128.load(qh + o);
        const q1 = v128.or(v128.and(a, m4), v128.and(i8x16.shl(hb, 4), m30));
        const q2 = v128.or(v128.and(c, m4), v128.and(i8x16.shl(hb, 2), m30));
        const q3 = v128.or(i8x16.shr_u(a, 4), v128.and(hb, m30));
        const q4 = v128.or(i8x16.shr_u(c, 4), v128.and(i8x16.shr_u(hb, 2), m30));
        const s1 = i16x8.splat(<i16>load<i8>(sc + is)), s2 = i16x8.splat(<i16>load<i8>(sc + is + 2));
        const s3 = i16x8.splat(<i16>load<i8>(sc + is + 4)), s4 = i16x8.splat(<i16>load<i8>(sc + is + 6));
        const xo = x + o;
        acc0 = q6kQuad(acc0, q1, q2, q3, q4, xo, s1, s2, s3, s4);
        acc1 = q6kQuad(acc1, q1, q2, q3, q4, xo + xs, s1, s2, s3, s4);
        acc2 = q6kQuad(acc2, q1, q2, q3, q4, xo + 2 * xs, s1, s2, s3, s4);
        acc3 = q6kQuad(acc3, q1, q2, q3, q4, xo + 3 * xs, s1, s2, s3, s4);
      }
    }
    const sc16 = v128.load(w + 192), lo = i16x8.extend_low_i8x16_s(sc16), hi = i16x8.extend_high_i8x16_s(sc16);
    const xb = bs + (<usize>(b >> 4) << 1), db = dx + (<usize>(b >> 5) << 2);
    sum0 += (d * load<f32>(db)) * <f32>(hsum(acc0) - 32 * q6kOffset(lo, hi, xb));
    sum1 += (d * load<f32>(db + dxs)) * <f32>(hsum(acc1) - 32 * q6kOffset(lo, hi, xb + bss));
    sum2 += (d * load<f32>(db + 2 * dxs)) * <f32>(hsum(acc2) - 32 * q6kOffset(lo, hi, xb + 2 * bss));
    sum3 += (d * load<f32>(db + 3 * dxs)) * <f32>(hsum(acc3) - 32 * q6kOffset(lo, hi, xb + 3 * bss));
  }
  store<f32>(y, sum0); store<f32>(y + ys, sum1); store<f32>(y + 2 * ys, sum2); store<f32>(y + 3 * ys, sum3);
}

function dotQ8_04(w: usize, qx: usize, dx: usize, K: i32, dxs: usize, y: usize, ys: usize): void {
  let sum0: f32 = 0, sum1: f32 = 0, sum2: f32 = 0, sum3: f32 = 0;
  const xs = <usize>K;
  for (let b = 0; b < K; b += 32, w += 34) {
    const d = f16(<u32>load<u16>(w));
    const w0 = v128.load(w + 2), w1 = v128.load(w + 18);
    const x = qx + <usize>b, db = dx + (<usize>(b >> 5) << 2);
    sum0 += (d * load<f32>(db)) * <f32>hsum(i32x4.add(dot16(w0, v128.load(x)), dot16(w1, v128.load(x + 16))));
    sum1 += (d * load<f32>(db + dxs)) * <f32>hsum(i32x4.add(dot16(w0, v128.load(x + xs)), dot16(w1, v128.load(x + xs + 16))));
    sum2 += (d * load<f32>(db + 2 * dxs)) * <f32>hsum(i32x4.add(dot16(w0, v128.load(x + 2 * xs)), dot16(w1, v128.load(x + 2 * xs + 16))));
    sum3 += (d * load<f32>(db + 3 * dxs)) * <f32>hsum(i32x4.add(dot16(w0, v128.load(x + 3 * xs)), dot16(w1, v128.load(x + 3 * xs + 16))));
  }
  store<f32>(y, sum0); store<f32>(y + ys, sum1); store<f32>(y + 2 * ys, sum2); store<f32>(y + 3 * ys, sum3);
}

// @ts-ignore: decorator
@inline function q40Row(lo: v128, hi: v128, x: usize, bs: usize, one: v128): i32 {
  const s = i16x8.add(udot(lo, v128.load(x)), udot(hi, v128.load(x + 16)));
  return hsum(i32x4.dot_i16x8_s(s, one)) - 8 * (<i32>load<i16>(bs) + <i32>load<i16>(bs + 2));
}

function dotQ4_04(w: usize, qx: usize, dx: usize, bs: usize, K: i32, dxs: usize, bss: usize, y: usize, ys: usize): void {
  let sum0: f32 = 0, sum1: f32 = 0, sum2: f32 = 0, sum3: f32 = 0;
  const m4 = i8x16.splat(15), one = i16x8.splat(1), xs = <usize>K;
  for (let b = 0; b < K; b += 32, w += 18) {
    const d = f16(<u32>load<u16>(w));
    const v = v128.load(w + 2), lo = v128.and(v, m4), hi = i8x16.shr_u(v, 4);
    const x = qx + <usize>b, sb = bs + (<usize>(b >> 4) << 1), db = dx + (<usize>(b >> 5) << 2);
    sum0 += (d * load<f32>(db)) * <f32>q40Row(lo, hi, x, sb, one);
    sum1 += (d * load<f32>(db + dxs)) * <f32>q40Row(lo, hi, x + xs, sb + bss, one);
    sum2 += (d * load<f32>(db + 2 * dxs)) * <f32>q40Row(lo, hi, x + 2 * xs, sb + 2 * bss, one);
    sum3 += (d * load<f32>(db + 3 * dxs)) * <f32>q40Row(lo, hi, x + 3 * xs, sb + 3 * bss, one);
  }
  store<f32>(y, sum0); store<f32>(y + ys, sum1); store<f32>(y + 2 * ys, sum2); store<f32>(y + 3 * ys, sum3);
}

/** Bytes of one quantized row of K values. */
export function rowBytes(fmt: i32, K: i32): i32 {
  if (fmt == Q8_0) return (K >> 5) * 34;
  if (fmt == Q4_0) return (K >> 5) * 18;
  if (fmt == Q4_K) return (K >> 8) * 144;
  return (K >> 8) * 210;
}

/** y[m * N + n] for n in [n0, n1) and every m, from x already quantized into scratch (quantize). */
export function rows(fmt: i32, w: usize, N: i32, K: i32, M: i32, scratch: usize, y: usize, n0: i32, n1: i32): void {
  const n = M * K;
  const dx0 = scratch + <usize>n, bs0 = dx0 + <usize>(n >> 3);
  const rb = <usize>rowBytes(fmt, K);
  for (let r = n0; r < n1; r++) {
    const wr = w + <usize>r * rb;
    let m = 0;
    const dxs = <usize>(K >> 5) << 2, bss = <usize>(K >> 4) << 1, ys = <usize>N << 2;
    for (; m + 4 <= M; m += 4) {
      const qx = scratch + <usize>(m * K), dx = dx0 + <usize>m * dxs, bs = bs0 + <usize>m * bss, yo = y + (<usize>(m * N + r) << 2);
      if (fmt == Q8_0) dotQ8_04(wr, qx, dx, K, dxs, yo, ys);
      else if (fmt == Q4_0) dotQ4_04(wr, qx, dx, bs, K, dxs, bss, yo, ys);
      else if (fmt == Q4_K) dotQ4_K4(wr, qx, dx, bs, K, dxs, bss, yo, ys);
      else dotQ6_K4(wr, qx, dx, bs, K, dxs, bss, yo, ys);
    }
    for (; m < M; m++) {
      const qx = scratch + <usize>(m * K), dx = dx0 + (<usize>(m * (K >> 5)) << 2), bs = bs0 + (<usize>(m * (K >> 4)) << 1);
      let v: f32;
      if (fmt == Q8_0) v = dotQ8_0(wr, qx, dx, K);
      else if (fmt == Q4_0) v = dotQ4_0(wr, qx, dx, bs, K);
      else if (fmt == Q4_K) v = dotQ4_K(wr, qx, dx, bs, K);
      else v = dotQ6_K(wr, qx, dx, bs, K);
      store<f32>(y + (<usize>(m * N + r) << 2), v);
    }
  }
}

/** The whole product: quantize x [M, K] into scratch, then every row of W [N, K]; y is [M, N] f32. */
export function qmatmul(fmt: i32, x: usize, M: i32, K: i32, w: usize, N: i32, y: usize, scratch: usize): void {
  quantize(fmt, x, M, K, scratch);
  rows(fmt, w, N, K, M, scratch, y, 0, N);
}
