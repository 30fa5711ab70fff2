// Formats the quantized kernels accept (F32 weights use tf.matMul directly).
export const Q_FORMATS = ['F16', 'Q8_0', 'Q4_0', 'Q4_K', 'Q6_K'] as const;
export type QFormat = (typeof Q_FORMATS)[number];
export function isQFormat(s: string): s is QFormat {
  return (Q_FORMATS as readonly string[]).includes(s);
}
