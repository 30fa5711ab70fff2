// WGSL GELU forward and backward: one thread per element, or per vec4 when the size is a multiple of 4.
// Flat layout, so more than 65535 workgroups are folded by tfjs and `main(index)` stays correct.
import { flatDispatch, LabProgram, size, type WebGPURun } from '../common';

const WG = 64;

// tanh in the exp(-2|u|) form: WGSL tanh can give NaN for large |u| on some drivers.
const tanhSafe = (T: string) => `
  fn tanhSafe(u : ${T}) -> ${T} { let e = exp(-2.0 * abs(u)); return sign(u) * (1.0 - e) / (1.0 + e); }`;

/** GELU (grad = false) or its gradient dy * GELU'(x) (grad = true), elementwise. */
class GeluProgram extends LabProgram {
  variableNames: string[];
  size = true;
  outputComponent: number;
  constructor(shape: number[], private readonly grad: boolean) {
    const vec4 = size(shape) % 4 === 0;
    super(shape, flatDispatch(shape, WG, vec4 ? 4 : 1), `lab_gelu${grad ? '_grad' : ''}_${vec4 ? 'v4' : 's'}`);
    this.outputComponent = vec4 ? 4 : 1;
    this.variableNames = grad ? ['dy', 'x'] : ['x'];
  }
  getUserCode(): string {
    const T = this.outputComponent === 4 ? 'vec4<f32>' : 'f32';
    const out = this.grad
      ? `let dudx = 0.7978845608028654 * (1.0 + 0.134145 * v * v);
          setOutputAtIndex(index, dy[index] * (0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * dudx));`
      : 'setOutputAtIndex(index, 0.5 * v * (1.0 + t));';
    return `${tanhSafe(T)}
      fn main(index : i32) {
        if (index < uniforms.size) {
          let v = x[index];
          let t = tanhSafe(0.7978845608028654 * (v + 0.044715 * v * v * v));
          ${out}
        }
      }`;
  }
}

export const geluWebGPU: { forward: WebGPURun; backward: WebGPURun } = {
  forward: ({ x }, be) => be.runWebGPUProgram(new GeluProgram(x.shape, false), [x], 'float32'),
  backward: ({ dy, x }, be) => be.runWebGPUProgram(new GeluProgram(x.shape, true), [dy, x], 'float32'),
};
