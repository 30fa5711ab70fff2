// Finiteness of GGUF tensor data, checked once when a tensor is loaded: a NaN or infinite weight would otherwise
// load silently and make every logit NaN (greedy decoding then returns token 0 forever).
// Cost: F32/F16 look at every value's exponent bits (one integer test each, no float conversion); the block
// formats look only at their f16 scales (d, and dmin for Q4_K): their quants are small integers, so a block's
// values are finite exactly when its scales are (for Q4_K, d*sc*q - dmin*m with sc, m < 64 and q < 16 stays
// finite for any finite f16 d, dmin). That is 1 read per 32 values for Q4_0/Q8_0, 2 per 256 for Q4_K, 1 per 256 for Q6_K.
import { GGUFError } from './reader';
import { blockInfo, type QuantType } from './types';

/** Byte positions of the f16 scales inside one block, per format. */
const SCALES: Partial<Record<QuantType, number[]>> = { Q8_0: [0], Q4_0: [0], Q4_K: [0, 2], Q6_K: [208] };

/** Index of the first value (F32/F16) or block (quantized) that is NaN or infinite, or -1. */
export function firstNonFinite(type: QuantType, raw: Uint8Array): number {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  if (type === 'F32') {
    const n = raw.byteLength >> 2;
    if (raw.byteOffset % 4 === 0) {
      const u = new Uint32Array(raw.buffer, raw.byteOffset, n); // a view: no copy
      for (let i = 0; i < n; i++) if ((u[i] & 0x7f800000) === 0x7f800000) return i;
      return -1;
    }
    for (let i = 0; i < n; i++) if ((dv.getUint32(4 * i, true) & 0x7f800000) === 0x7f800000) return i;
    return -1;
  }
  if (type === 'F16') {
    const n = raw.byteLength >> 1;
    if (raw.byteOffset % 2 === 0) {
      const u = new Uint16Array(raw.buffer, raw.byteOffset, n);
      for (let i = 0; i < n; i++) if ((u[i] & 0x7c00) === 0x7c00) return i;
      return -1;
    }
    for (let i = 0; i < n; i++) if ((dv.getUint16(2 * i, true) & 0x7c00) === 0x7c00) return i;
    return -1;
  }
  const at = SCALES[type];
  if (!at) throw new Error(`firstNonFinite: no rule for ${type}.`);
  const { typeSize } = blockInfo(type);
  const blocks = Math.floor(raw.byteLength / typeSize);
  for (let b = 0; b < blocks; b++) for (const o of at) if ((dv.getUint16(b * typeSize + o, true) & 0x7c00) === 0x7c00) return b;
  return -1;
}

/** Throws a GGUFError naming the tensor when its data holds a NaN or infinity. */
export function checkFiniteTensor(name: string, type: QuantType, raw: Uint8Array): void {
  const i = firstNonFinite(type, raw);
  if (i < 0) return;
  const where = type === 'F32' || type === 'F16' ? `value ${i}` : `the scale of block ${i}`;
  throw new GGUFError(
    `corrupt: tensor ${name} (${type}) holds a NaN or infinite number at ${where}. The weights are damaged: fetch the file again, or re-convert the model with llama.cpp.`,
  );
}
