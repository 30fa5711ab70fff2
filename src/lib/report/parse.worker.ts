// A one-shot worker that parses a report (parseReport) off the page's thread: the page stays responsive while a
// large report is validated. It receives the text, answers { report } or { error }, and is then terminated.
import { parseReport, ReportFormatError } from './schema';

self.onmessage = (e: MessageEvent<string>) => {
  try {
    self.postMessage({ report: parseReport(e.data) });
  } catch (err) {
    self.postMessage({ error: (err as Error).message, format: err instanceof ReportFormatError });
  }
};
