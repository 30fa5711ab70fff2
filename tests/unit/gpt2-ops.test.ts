// The GPT-2 op sets are chosen by name where a model is made: importing the ops module alone gives both, with no
// set-up step run by importing another module first (the fused set used to be installed by gpt2/index.ts on import).
import { describe, expect, it } from 'vitest';
import { getOps, type OpsImpl } from '../../src/lib/models/gpt2/ops';
import { causalAttention, gelu, stock } from '../../src/lib/kernels';

describe('GPT-2 op sets', () => {
  it('gives the fused and the stock set by name from the ops module alone', () => {
    expect(getOps('fused').gelu).toBe(gelu);
    expect(getOps('fused').causalAttention).toBe(causalAttention);
    expect(getOps('stock')).toBe(stock);
  });

  it('refuses an unknown name with the two it accepts', () => {
    expect(() => getOps('fast' as OpsImpl)).toThrow(/must be 'fused' or 'stock', got fast/);
  });
});
