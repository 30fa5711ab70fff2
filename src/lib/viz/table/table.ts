// Pure row operations behind DataTable: search, sort and paging, kept apart so they are testable in Node.
import { ascending, descending } from 'd3';

export interface Column<T> {
  /** Property of the row shown in this column. */
  key: keyof T & string;
  /** Header text. */
  label: string;
  /** How a cell shows its value (default: numbers via formatValue, others as text). */
  format?: (value: T[keyof T], row: T) => string;
  /** Numbers align right by default. */
  align?: 'left' | 'right';
  /** Default true. */
  sortable?: boolean;
  /** Header tooltip: what the column means (hook name, formula). */
  title?: string;
}

export type SortDir = 'asc' | 'desc';

/** Rows whose shown text in any column contains every word of `query` (case-insensitive). */
export function filterRows<T>(rows: readonly T[], columns: readonly Column<T>[], query: string, show: (c: Column<T>, r: T) => string): T[] {
  const words = query.trim().toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return rows.slice();
  return rows.filter((r) => {
    const text = columns.map((c) => show(c, r)).join(' ').toLowerCase();
    return words.every((w) => text.includes(w));
  });
}

/** A stable sort by one column; empty, null and NaN values go last in either direction. */
export function sortRows<T>(rows: readonly T[], key: keyof T, dir: SortDir): T[] {
  const missing = (v: unknown) => v === null || v === undefined || v === '' || (typeof v === 'number' && Number.isNaN(v));
  const cmp = dir === 'asc' ? ascending : descending;
  return rows
    .map((r, i) => ({ r, i }))
    .sort((a, b) => {
      const va = a.r[key] as unknown, vb = b.r[key] as unknown;
      const ma = missing(va), mb = missing(vb);
      if (ma || mb) return ma === mb ? a.i - b.i : ma ? 1 : -1;
      const c = typeof va === 'number' && typeof vb === 'number'
        ? cmp(va, vb)
        : cmp(String(va).toLowerCase(), String(vb).toLowerCase());
      return c || a.i - b.i;
    })
    .map((x) => x.r);
}

/** One page of rows: the page index is clamped into range, so a shrinking search never shows an empty page. */
export function pageOf<T>(rows: readonly T[], page: number, size: number): { rows: T[]; page: number; pageCount: number } {
  if (!Number.isInteger(size) || size < 1) throw new Error(`DataTable: pageSize must be a positive integer, got ${size}.`);
  const pageCount = Math.max(1, Math.ceil(rows.length / size));
  const p = Math.min(Math.max(0, Math.floor(page)), pageCount - 1);
  return { rows: rows.slice(p * size, (p + 1) * size), page: p, pageCount };
}
