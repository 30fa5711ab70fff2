// The checkpoint file: one self-describing binary, documented here and in the README.
//
//   bytes 0..3   ASCII "MGCK"
//   bytes 4..7   uint32 LE format version (1)
//   bytes 8..11  uint32 LE header length H
//   bytes 12..   H bytes of UTF-8 JSON header (see CheckpointHeader), then zero padding to a multiple of 8
//   then         raw little-endian float32 tensors; header.tensors[i].offset is relative to this point
//
// Weights and (optionally) AdamW moments are stored by GPT-2 key ("h.0.attn.c_attn.weight", "...adam_m").
//
// What decodeCheckpoint refuses, and its allocation bound (checked by tests/unit/fuzz.test.ts):
// - tensor extents must lie in the file, in offset order, and not overlap, so the tensor copies together hold at
//   most the file's bytes (a 4 MB file whose 250 entries all point at the same bytes used to copy 1 GB);
// - every value must be finite (a NaN weight used to load and decode as token 0);
// - the model config must be valid (validateConfig) and the training settings within the bounds of
//   settings.ts, the same check as the Train page's;
// so decoding allocates at most CHECKPOINT_BOUND(file bytes) = the file's bytes in typed arrays + 32 x the
// header's bytes + 1 MiB of JS heap for the parsed header.
import { z } from '../util/zod';
import { validateConfig } from '../models/gpt2/config';
import { checkTrainSettings } from './settings';

export const CHECKPOINT_MAGIC = 'MGCK';
export const CHECKPOINT_VERSION = 1;

/** The most bytes (typed arrays + JS heap) decoding a checkpoint file may allocate: see the header comment. */
export const CHECKPOINT_BOUND = (fileBytes: number, headerBytes = fileBytes): number => fileBytes + 32 * headerBytes + (1 << 20);

const tensorEntry = z.object({
  name: z.string().min(1).max(200),
  shape: z.array(z.number().int().nonnegative()).max(8),
  offset: z.number().int().nonnegative(),
  length: z.number().int().nonnegative(),
});

export const checkpointHeader = z.object({
  format: z.literal('memgen-gpt2-checkpoint'),
  version: z.literal(1),
  id: z.string().min(1).max(200),
  task: z.enum(['arithmetic', 'cipher', 'color', 'mixed']),
  preset: z.string().max(64),
  config: z.object({
    nLayer: z.number().int().positive(),
    nHead: z.number().int().positive(),
    dModel: z.number().int().positive(),
    nCtx: z.number().int().positive(),
    vocabSize: z.number().int().positive(),
    eps: z.number().positive(),
  }),
  tokenizer: z.unknown(),
  seed: z.number().int(),
  step: z.number().int().nonnegative(),
  /** Training settings (TrainConfig) the run used. */
  train: z.record(z.string(), z.unknown()),
  /** Validation result at this step. */
  eval: z
    .object({
      step: z.number(), mem: z.number(), gen: z.number(), other: z.number(), total: z.number(), decode: z.string(),
      /** A mixed task's counts per part. */
      byTask: z.record(z.string(), z.object({ mem: z.number(), gen: z.number(), other: z.number(), total: z.number() })).optional(),
    })
    .nullable(),
  /** Loss and eval log up to this step. */
  log: z.array(z.record(z.string(), z.unknown())).max(1_000_000),
  createdAt: z.string(),
  tensors: z.array(tensorEntry).max(100_000),
});

export type CheckpointHeader = z.infer<typeof checkpointHeader>;

export interface Checkpoint {
  header: CheckpointHeader;
  tensors: Record<string, Float32Array>;
}

export class CheckpointFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointFormatError';
  }
}

export function encodeCheckpoint(header: Omit<CheckpointHeader, 'tensors'>, tensors: Record<string, Float32Array>, shapes: Record<string, number[]>): ArrayBuffer {
  const entries: CheckpointHeader['tensors'] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(tensors)) {
    entries.push({ name, shape: shapes[name] ?? [data.length], offset, length: data.length });
    offset += data.length * 4;
  }
  const json = new TextEncoder().encode(JSON.stringify({ ...header, tensors: entries }));
  const headStart = 12;
  const dataStart = Math.ceil((headStart + json.length) / 8) * 8;
  const buf = new ArrayBuffer(dataStart + offset);
  const u8 = new Uint8Array(buf);
  u8.set(new TextEncoder().encode(CHECKPOINT_MAGIC), 0);
  const dv = new DataView(buf);
  dv.setUint32(4, CHECKPOINT_VERSION, true);
  dv.setUint32(8, json.length, true);
  u8.set(json, headStart);
  for (const e of entries) new Float32Array(buf, dataStart + e.offset, e.length).set(tensors[e.name]);
  return buf;
}

const FIX = 'Choose a checkpoint file saved by MemGen Lab (Train page, "Download").';

/**
 * Decodes and checks a checkpoint file. With `views`, tensors are views into `buf` instead of copies (for
 * checking a file without allocating its tensors again, as the runs-file import does).
 */
export function decodeCheckpoint(buf: ArrayBuffer, opts: { views?: boolean } = {}): Checkpoint {
  if (buf.byteLength < 12) throw new CheckpointFormatError(`This file is ${buf.byteLength} bytes, too short to be a checkpoint. ${FIX}`);
  const magic = new TextDecoder().decode(new Uint8Array(buf, 0, 4));
  if (magic !== CHECKPOINT_MAGIC) throw new CheckpointFormatError(`Not a MemGen checkpoint (starts with "${magic.replace(/[^\x20-\x7e]/g, '?')}", expected "MGCK"). ${FIX}`);
  const dv = new DataView(buf);
  const version = dv.getUint32(4, true);
  if (version !== CHECKPOINT_VERSION) throw new CheckpointFormatError(`Checkpoint format version ${version} is not supported (this lab reads version ${CHECKPOINT_VERSION}). Re-export it from a matching lab version.`);
  const hlen = dv.getUint32(8, true);
  if (12 + hlen > buf.byteLength) throw new CheckpointFormatError(`The checkpoint is truncated: its header claims ${hlen} bytes but the file has only ${buf.byteLength - 12} after the preamble. Download it again.`);
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(buf, 12, hlen)));
  } catch {
    throw new CheckpointFormatError(`The checkpoint header is not valid JSON (the file is corrupt). ${FIX}`);
  }
  const parsed = checkpointHeader.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CheckpointFormatError(`The checkpoint header is malformed at "${issue.path.join('.')}": ${issue.message}. ${FIX}`);
  }
  const header = parsed.data;
  try {
    validateConfig(header.config);
  } catch (e) {
    throw new CheckpointFormatError(`The checkpoint's model config is invalid: ${(e as Error).message.replace(/^Invalid GPT-2 config: /, '')} ${FIX}`);
  }
  try {
    checkTrainSettings(header.train, { where: "in the checkpoint's header", fix: 'The file was edited or damaged. Re-export it from the lab, or start a new run.' }, { partial: true });
  } catch (e) {
    throw new CheckpointFormatError((e as Error).message);
  }
  const dataStart = Math.ceil((12 + hlen) / 8) * 8;
  const tensors: Record<string, Float32Array> = {};
  // Extents are checked for all tensors before any is copied: in the file, in offset order, disjoint.
  let prevEnd = 0;
  let prev = '';
  for (const e of header.tensors) {
    // A repeated name would silently replace a tensor; "__proto__" would set the record's prototype instead.
    if (Object.hasOwn(tensors, e.name) || e.name === '__proto__')
      throw new CheckpointFormatError(`The checkpoint header lists tensor "${e.name}" twice or under a reserved name (the file is corrupt). ${FIX}`);
    const n = e.shape.reduce((a, b) => a * b, 1);
    if (n !== e.length) throw new CheckpointFormatError(`Tensor "${e.name}" has shape [${e.shape}] but ${e.length} values. ${FIX}`);
    if (e.offset % 4 !== 0 || dataStart + e.offset + e.length * 4 > buf.byteLength)
      throw new CheckpointFormatError(`The checkpoint is truncated: tensor "${e.name}" ends past the end of the file. Download it again.`);
    if (e.offset < prevEnd)
      throw new CheckpointFormatError(`The checkpoint is corrupt: tensor "${e.name}" starts at byte ${e.offset}, inside or before tensor "${prev}" (which ends at ${prevEnd}); tensors must not overlap. ${FIX}`);
    prevEnd = e.offset + e.length * 4;
    prev = e.name;
    tensors[e.name] = new Float32Array(0); // placeholder: marks the name as seen
  }
  for (const e of header.tensors) {
    const t = opts.views
      ? new Float32Array(buf, dataStart + e.offset, e.length) // dataStart is a multiple of 8, offsets of 4: aligned
      : new Float32Array(buf.slice(dataStart + e.offset, dataStart + e.offset + e.length * 4));
    for (let i = 0; i < t.length; i++) {
      // x - x is 0 for finite x and NaN for NaN and +-Infinity
      if (t[i] - t[i] !== 0) throw new CheckpointFormatError(`The checkpoint is corrupt: tensor "${e.name}" holds ${t[i]} at index ${i} (weights must be finite). ${FIX}`);
    }
    tensors[e.name] = t;
  }
  return { header, tensors };
}

export function checkpointShapes(ck: Checkpoint): Record<string, number[]> {
  return Object.fromEntries(ck.header.tensors.map((t) => [t.name, t.shape]));
}
