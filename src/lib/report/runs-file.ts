// Runs with their artifacts (checkpoints...) as ONE file, to move a lab's work to another browser or machine.
//
// File layout ("memgen runs file", version 1), little-endian:
//   bytes 0..11   magic "MEMGEN-RUNS1" (ASCII)
//   bytes 12..15  uint32 H: length of the header in bytes
//   next H bytes  header, UTF-8 JSON: { kind: 'memgen-runs', version: 1, exportedAt,
//                   runs: [{ record: RunRecord, artifacts: [{ name, offset, length, sha256 }] }] }
//   the rest      artifact bytes back to back; `offset` counts from the first byte after the header
// Binary rather than base64-in-JSON: checkpoints stay raw bytes (no 4/3 growth, no giant strings), and each
// carries a SHA-256 so a damaged file is refused before anything is written.
//
// What decodeRunsFile refuses, and its allocation bound (checked by tests/unit/fuzz.test.ts): artifact extents
// must lie in the file, in offset order across all runs, and not overlap (250 artifacts pointing at the same
// bytes used to allocate and hash 1 GB from a 4 MB file), so the artifact copies together hold at most the
// file's bytes; a training run's settings go through settings.ts (the Train page's bounds), and its checkpoints
// are decoded and checked in place (no second copy). Decoding allocates at most RUNS_FILE_BOUND(file bytes) =
// the file's bytes in artifact copies + 32 x the header's bytes + 1 MiB of JS heap.
import { z } from '../util/zod';
import { checkTrainSettings } from '../train/settings';
import { decodeCheckpoint } from '../train/checkpoint';
import { getRun, listRuns, loadArtifact, saveArtifacts, saveRun, type RunRecord } from '../store/runs';

export const RUNS_FILE_MAGIC = 'MEMGEN-RUNS1';
const PREFIX = RUNS_FILE_MAGIC.length + 4;

/** The most bytes (typed arrays + JS heap) decoding a runs file may allocate: see the header comment. */
export const RUNS_FILE_BOUND = (fileBytes: number, headerBytes = fileBytes): number => fileBytes + 32 * headerBytes + (1 << 20);

export class RunsFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunsFileError';
  }
}

const runRecordSchema = z.object({
  id: z.string().min(1).max(200),
  kind: z.enum(['train', 'record', 'analyze', 'steer']),
  title: z.string(),
  status: z.enum(['running', 'paused', 'done', 'cancelled', 'failed', 'interrupted']),
  config: z.record(z.string(), z.unknown()),
  parent: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
  summary: z.record(z.string(), z.unknown()),
  artifacts: z.record(z.string(), z.string()),
  error: z.string().optional(),
});

const headerSchema = z.object({
  kind: z.literal('memgen-runs'),
  version: z.literal(1),
  exportedAt: z.string(),
  runs: z.array(z.object({
    record: runRecordSchema,
    artifacts: z.array(z.object({
      name: z.string().min(1).max(200),
      offset: z.number().int().nonnegative(),
      length: z.number().int().nonnegative(),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
    })),
  })),
});

/** One run and its artifacts' bytes, by artifact name. */
export interface RunEntry { record: RunRecord; artifacts: Record<string, ArrayBuffer> }

async function sha256(data: ArrayBuffer): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Packs runs and their artifacts into one file (see the layout above). */
export async function encodeRunsFile(entries: RunEntry[]): Promise<Blob> {
  const parts: ArrayBuffer[] = [];
  let offset = 0;
  const runs = [];
  for (const e of entries) {
    const arts = [];
    for (const [name, data] of Object.entries(e.artifacts)) {
      arts.push({ name, offset, length: data.byteLength, sha256: await sha256(data) });
      parts.push(data);
      offset += data.byteLength;
    }
    runs.push({ record: e.record, artifacts: arts });
  }
  const header = new TextEncoder().encode(JSON.stringify({ kind: 'memgen-runs', version: 1, exportedAt: new Date().toISOString(), runs }));
  const prefix = new Uint8Array(PREFIX); // magic + uint32 header length
  prefix.set(new TextEncoder().encode(RUNS_FILE_MAGIC));
  new DataView(prefix.buffer).setUint32(RUNS_FILE_MAGIC.length, header.byteLength, true);
  return new Blob([prefix, header, ...parts], { type: 'application/octet-stream' });
}

/**
 * Reads and checks a runs file completely (magic, header schema, bounds, checksums) before returning anything,
 * so a bad file never half-imports. Errors say what is wrong and what to do.
 */
export async function decodeRunsFile(buf: ArrayBuffer): Promise<RunEntry[]> {
  const again = 'Export the runs again from the lab (Runs page, "Export").';
  if (buf.byteLength < PREFIX || new TextDecoder().decode(new Uint8Array(buf, 0, RUNS_FILE_MAGIC.length)) !== RUNS_FILE_MAGIC) {
    throw new RunsFileError(`This is not a MemGen runs file (it should start with "${RUNS_FILE_MAGIC}"). Pick a file saved by the Runs page's "Export" button.`);
  }
  const h = new DataView(buf).getUint32(RUNS_FILE_MAGIC.length, true);
  if (PREFIX + h > buf.byteLength) throw new RunsFileError(`The runs file is cut short: its header needs ${h} bytes but the file ends first. ${again}`);
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(buf, PREFIX, h)));
  } catch {
    throw new RunsFileError(`The runs file's header is damaged (not valid JSON). ${again}`);
  }
  const parsed = headerSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new RunsFileError(`The runs file's header is malformed at "${i.path.join('.')}": ${i.message}. ${again}`);
  }
  const dataStart = PREFIX + h;
  const dataLen = buf.byteLength - dataStart;
  const seen = new Set<string>();
  // Every extent is checked, across all runs, before any byte is copied or hashed.
  const names = new Set<string>();
  let prevEnd = 0;
  let prev = '';
  for (const run of parsed.data.runs) {
    if (seen.has(run.record.id)) throw new RunsFileError(`The runs file lists run "${run.record.id}" twice. ${again}`);
    seen.add(run.record.id);
    names.clear();
    for (const a of run.artifacts) {
      if (names.has(a.name)) throw new RunsFileError(`Run "${run.record.title}" lists artifact "${a.name}" twice. ${again}`);
      names.add(a.name);
      if (a.offset + a.length > dataLen) {
        throw new RunsFileError(`The runs file is cut short: artifact "${a.name}" of run "${run.record.title}" ends past the end of the file. ${again}`);
      }
      if (a.offset < prevEnd) {
        throw new RunsFileError(`The runs file is corrupt: artifact "${a.name}" of run "${run.record.title}" starts at byte ${a.offset}, inside or before artifact ${prev} (which ends at ${prevEnd}); artifacts must not overlap. ${again}`);
      }
      prevEnd = a.offset + a.length;
      prev = `"${a.name}" of run "${run.record.title}"`;
    }
    const cfg = run.record.config;
    if (run.record.kind === 'train' && cfg.model !== 'llama-lora') {
      try {
        checkTrainSettings(cfg, { where: `of run "${run.record.title}" in the runs file`, fix: again }, { partial: true });
      } catch (e) {
        throw new RunsFileError((e as Error).message);
      }
    }
  }
  const out: RunEntry[] = [];
  for (const run of parsed.data.runs) {
    const artifacts: Record<string, ArrayBuffer> = {};
    for (const a of run.artifacts) {
      const data = buf.slice(dataStart + a.offset, dataStart + a.offset + a.length);
      if ((await sha256(data)) !== a.sha256) {
        throw new RunsFileError(`Artifact "${a.name}" of run "${run.record.title}" is damaged (its SHA-256 does not match). ${again}`);
      }
      if (run.record.kind === 'train' && run.record.config.model !== 'llama-lora' && (a.name === 'latest' || a.name === 'best')) {
        try {
          decodeCheckpoint(data, { views: true }); // settings, config, extents, finite weights: checked in place
        } catch (e) {
          throw new RunsFileError(`Checkpoint "${a.name}" of run "${run.record.title}" is refused: ${(e as Error).message} ${again}`);
        }
      }
      artifacts[a.name] = data;
    }
    out.push({ record: run.record as RunRecord, artifacts });
  }
  return out;
}

/**
 * Exports runs (all, or those in `ids`) with every artifact they point to. Artifacts missing from storage are
 * left out of the file and named in `missing`.
 */
export async function exportRuns(ids?: readonly string[]): Promise<{ blob: Blob; runs: number; artifacts: number; missing: string[] }> {
  const want = ids ? new Set(ids) : null;
  const runs = (await listRuns()).filter((r) => !want || want.has(r.id));
  if (want && runs.length !== want.size) {
    const found = new Set(runs.map((r) => r.id));
    throw new RunsFileError(`Run(s) not found: ${[...want].filter((id) => !found.has(id)).join(', ')}. Refresh the Runs page and select again.`);
  }
  const missing: string[] = [];
  const entries: RunEntry[] = [];
  let count = 0;
  for (const r of runs) {
    const artifacts: Record<string, ArrayBuffer> = {};
    for (const [name, key] of Object.entries(r.artifacts)) {
      const data = await loadArtifact(key);
      if (data instanceof ArrayBuffer) { artifacts[name] = data; count++; } else missing.push(`${r.title}: ${name}`);
    }
    // The record points at exactly the artifacts the file carries.
    const record = { ...r, artifacts: Object.fromEntries(Object.keys(artifacts).map((n) => [n, r.artifacts[n]])) };
    entries.push({ record, artifacts });
  }
  return { blob: await encodeRunsFile(entries), runs: entries.length, artifacts: count, missing };
}

/**
 * Imports a runs file. The whole file is checked first (decodeRunsFile); runs whose id is already stored are
 * skipped, never overwritten, so importing loses nothing.
 */
export async function importRuns(file: Blob): Promise<{ imported: string[]; skipped: string[] }> {
  const entries = await decodeRunsFile(await file.arrayBuffer());
  const imported: string[] = [];
  const skipped: string[] = [];
  for (const e of entries) {
    if (await getRun(e.record.id)) { skipped.push(e.record.id); continue; }
    // a run "running" in the browser that wrote the file is live nowhere here: offered for resume instead
    const record: RunRecord = { ...e.record, status: e.record.status === 'running' ? 'interrupted' : e.record.status, artifacts: {} };
    // Artifacts first, then the record (saveArtifacts saves the run last), so a run never points at missing bytes.
    // saveRun stamps updatedAt with the import time; createdAt keeps the original.
    if (Object.keys(e.artifacts).length) await saveArtifacts(record, e.artifacts);
    else await saveRun(record);
    imported.push(record.id);
  }
  return { imported, skipped };
}
