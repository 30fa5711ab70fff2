// CPU twins of LabQMatMul / LabQMatMulDx / LabQGather for the 'cpu' and 'wasm' backends (they run reference.ts),
// and the wasm SIMD body tried first for LabQMatMul on 'wasm' (wasm-simd/: x rounded to int8 as llama.cpp does;
// setQMatMulActivations('float') there gives this float path instead, the math of the other backends).
import type { HostKernel, LabKernel } from '../common';
import { INT8_FORMATS } from './wasm-simd/int8';
import { getQMatMulActivations, wasmInt8MatMul, type WasmBackend } from './wasm-simd';
import { qGatherRef, qMatMulDxRef, qMatMulRef, type QAttrs } from './reference';

const q = (attrs: unknown) => attrs as QAttrs;

export const qMatMulHost: HostKernel = {
  outputs: ({ x }, a) => [{ shape: [x.shape[0], q(a).N], dtype: 'float32' }],
  compute: ({ x, w }, [y], a) => y.set(qMatMulRef(x.values as Float32Array, x.shape[0], w.values as Int32Array, q(a))),
};

export const qMatMulDxHost: HostKernel = {
  outputs: ({ dy }, a) => [{ shape: [dy.shape[0], q(a).K], dtype: 'float32' }],
  compute: ({ dy, w }, [dx], a) => dx.set(qMatMulDxRef(dy.values as Float32Array, dy.shape[0], w.values as Int32Array, q(a))),
};

export const qGatherHost: HostKernel = {
  outputs: ({ ids }, a) => [{ shape: [ids.shape[0], q(a).K], dtype: 'float32' }],
  compute: ({ ids, w }, [e], a) => e.set(qGatherRef(ids.values as Int32Array, w.values as Int32Array, q(a))),
};

/** LabQMatMul on wasm in int8 mode (the default) for the formats the SIMD kernel has; null leaves it to the twin. */
export const qMatMulWasm: LabKernel['wasm'] = ({ x, w }, backend, a) =>
  getQMatMulActivations() === 'int8' && INT8_FORMATS.has(q(a).format)
    ? (wasmInt8MatMul(backend as WasmBackend, x, w, q(a)) as typeof x)
    : null;
