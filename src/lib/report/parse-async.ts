// Report import off the page's thread: texts over OFF_THREAD_BYTES are parsed in a one-shot worker
// (parse.worker.ts), smaller ones right away (a worker's start costs more than parsing them). Where workers do
// not exist (Node tests) everything is parsed inline; the result and the messages are the same either way.
import { parseReport, ReportFormatError, type Report } from './schema';

export const OFF_THREAD_BYTES = 64 * 1024;

/** Makes the parse worker; replaced in tests. */
export let makeParseWorker: (() => Worker) | null =
  typeof Worker === 'undefined' ? null : () => new Worker(new URL('./parse.worker.ts', import.meta.url), { type: 'module', name: 'memgen-report-parse' });

export function setParseWorkerFactory(f: (() => Worker) | null): void {
  makeParseWorker = f;
}

export async function parseReportAsync(text: string): Promise<Report> {
  if (text.length < OFF_THREAD_BYTES || !makeParseWorker) return parseReport(text);
  const w = makeParseWorker();
  try {
    const reply = await new Promise<{ report?: Report; error?: string; format?: boolean }>((resolve, reject) => {
      w.onmessage = (e) => resolve(e.data);
      w.onerror = (e) => reject(new Error(`The report parser stopped: ${e.message || 'the worker failed to start'}. Reload the page and try again.`));
      w.postMessage(text);
    });
    if (reply.report) return reply.report;
    throw reply.format ? new ReportFormatError(reply.error ?? 'unknown') : new Error(reply.error);
  } finally {
    w.terminate();
  }
}
