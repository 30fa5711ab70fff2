// Index-range checks of the WebGPU quantized matmul programs (no GPU needed: the programs are plain objects).
import { describe, expect, it } from 'vitest';
import { outputGrid, qGatherProgram, qMatMulDxProgram, qMatMulProgram, qMatMulSimpleProgram } from '../../src/lib/kernels/qmatmul/webgpu';
import { flatDispatch, rowDispatch } from '../../src/lib/kernels/common';

describe('qmatmul dispatch at the real vocabulary', () => {
  it('lays the block forward on a 2-D grid within limits that covers every output, for prefills past 261 rows', () => {
    for (const M of [1, 261, 262, 263, 4096]) {
      const p = qMatMulProgram('Q6_K', M, 128256, 2048);
      expect(p.dispatch.every((d) => d >= 1 && d <= 65535)).toBe(true);
      expect(p.dispatch[0] * p.dispatch[1] * p.dispatch[2]).toBeGreaterThanOrEqual(M * 128256);
      expect(p.dispatch[0] * p.dispatch[1] * p.dispatch[2] - M * 128256).toBeLessThan(65535); // at most one partial grid row
      expect(p.getUserCode()).toContain('workgroupOutput(workgroupId, numWorkgroups)');
    }
    expect(outputGrid(1)).toEqual([1, 1, 1]);
    expect(outputGrid(65536)).toEqual([65535, 2, 1]);
  });

  it('refuses, naming the limit, shapes whose indices would pass 2^31 (instead of leaving outputs unwritten)', () => {
    expect(() => qMatMulProgram('Q4_K', 20000, 128256, 2048)).toThrow(/2\^31/);
    expect(() => qMatMulSimpleProgram('F16', 20000, 128256, 2048)).toThrow(/2\^31/);
    expect(() => qMatMulDxProgram('Q4_K', 1100000, 128256, 2048)).toThrow(/2\^31/);
    expect(() => qGatherProgram('F16', 1, 300000, 4096)).toThrow(/F16 \[300000, 4096\] weight.*2\^31 bytes/);
    expect(() => rowDispatch(2, 9000000, 256)).toThrow(/2\^31/);
    expect(() => flatDispatch([50000, 50000], 64)).toThrow(/2\^31/);
    // the real shapes pass
    expect(() => qMatMulDxProgram('Q6_K', 4096, 128256, 2048)).not.toThrow();
    expect(() => qGatherProgram('Q6_K', 4096, 128256, 3072)).not.toThrow();
  });
});
