// Helpers for showing and exporting a split: JSON Lines text and token-length statistics.
import type { TaskTokenizer } from './tokenizer';

/** One JSON object per line, newline-terminated (JSON Lines). */
export function toJSONL(rows: readonly unknown[]): string {
  return rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '');
}

export interface LengthStats {
  count: number;
  min: number;
  mean: number;
  /** 95th percentile (nearest rank). */
  p95: number;
  max: number;
}

/** Token counts of <bos> prompt target <eos> for each example. */
export function tokenLengthStats(tok: TaskTokenizer, examples: readonly { prompt: string; target: string }[]): LengthStats {
  if (examples.length === 0) return { count: 0, min: 0, mean: 0, p95: 0, max: 0 };
  const lens = examples.map((e) => tok.encodeExample(e).ids.length).sort((a, b) => a - b);
  const sum = lens.reduce((a, b) => a + b, 0);
  return {
    count: lens.length,
    min: lens[0] as number,
    mean: sum / lens.length,
    p95: lens[Math.min(lens.length - 1, Math.ceil(0.95 * lens.length) - 1)] as number,
    max: lens[lens.length - 1] as number,
  };
}
