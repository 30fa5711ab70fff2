// WGSL GELU forward and backward: one thread per element, or per vec4 when the size is a multiple of 4.
// Flat layout, so more than 65535 workgroups are folded by tfjs and `main(index)` stays correct.
import { flatDispatch, LabProgram, size, type WebGPURun } from '../common';

const WG = 64;

// tanh in the exp(-2|u|) form: WGSL tanh can give NaN for large |u| on some drivers.
const tanhSafe = (T: string) => `
  fn tanhSafe(u : ${T}) -> ${T} { let e = exp(-2.0 * abs(u)); return sign(u) * (1.0 - e) / (1.0 + e); }`;

class GeluProgram extends LabProgram {
  variableNames = ['x'];
  size = true;
  outputComponent: number;
  constructor(shape: number[]) {
    const vec4 = size(shape) % 4 === 0;
    super(shape, flatDispatch(shape, WG, vec4 ? 4 : 1), `lab_gelu_${vec4 ? 'v4' : 's'}`);
    this.outputComponent = vec4 ? 4 : 1;
  }
  getUserCode(): string {
    const T = this.outputComponent === 4 ? 'vec4<f32>' : 'f32';
    return `${tanhSafe(T)}
      fn main(index : i32) {
        if (index < uniforms.size) {
          let v = x[index];
          setOutputAtIndex(index, 0.5 * v * (1.0 + tanhSafe(0.7978845608028654 * (v + 0.044715 * v * v * v))));
        }
      }`;
  }
}

class GeluGradProgram extends LabProgram {
  variableNames = ['dy', 'x'];
  size = true;
  outputComponent: number;
  constructor(shape: number[]) {
    const vec4 = size(shape) % 4 === 0;
    super(shape, flatDispatch(shape, WG, vec4 ? 4 : 1), `lab_gelu_grad_${vec4 ? 'v4' : 's'}`);
    this.outputComponent = vec4 ? 4 : 1;
  }
  getUserCode(): string {
    const T = this.outputComponent === 4 ? 'vec4<f32>' : 'f32';
    return `${tanhSafe(T)}
      fn main(index : i32) {
        if (index < uniforms.size) {
          let v = x[index];
          let t = tanhSafe(0.7978845608028654 * (v + 0.044715 * v * v * v));
          let dudx = 0.7978845608028654 * (1.0 + 0.134145 * v * v);
          setOutputAtIndex(index, dy[index] * (0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * dudx));
        }
      }`;
  }
}

export const geluWebGPU: { forward: WebGPURun; backward: WebGPURun } = {
  forward: ({ x }, be) => be.runWebGPUProgram(new GeluProgram(x.shape), [x], 'float32'),
  backward: ({ dy, x }, be) => be.runWebGPUProgram(new GeluGradProgram(x.shape), [dy, x], 'float32'),
};
