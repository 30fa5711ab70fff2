// Where a checkpoint's bytes come from: a stored training run (its best checkpoint, else its latest), a URL
// (a shipped checkpoint), or bytes given (an upload).
import { getRun, loadArtifact } from './runs';

export interface CheckpointSource {
  runId?: string;
  buffer?: ArrayBuffer;
  url?: string;
  /** How an uploaded checkpoint is named. */
  name?: string;
}

/** The checkpoint's bytes and the name the lab shows for it. */
export async function readCheckpointBytes(src: CheckpointSource): Promise<{ buf: ArrayBuffer; label: string }> {
  let buf = src.buffer;
  let label = src.name ?? 'uploaded checkpoint';
  if (src.runId) {
    const r = await getRun(src.runId);
    const key = r?.artifacts.best ?? r?.artifacts.latest;
    buf = key ? await loadArtifact(key) : undefined;
    if (!buf) throw new Error(`Run "${src.runId}" has no checkpoint stored. Train it first, or pick another run.`);
    label = r!.title;
  } else if (src.url) {
    const res = await fetch(src.url);
    if (!res.ok) throw new Error(`Could not load ${src.url}: HTTP ${res.status}.`);
    buf = await res.arrayBuffer();
    label = src.url.split('/').pop() ?? src.url;
  }
  if (!buf) throw new Error('No checkpoint given.');
  return { buf, label };
}
