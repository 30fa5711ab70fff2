// npm run report-html -- report.json [more.json ...]
// Writes each JSON report's HTML (the Report page's own "Save HTML", headless) beside it.
import { existsSync } from 'node:fs';
import { saveReportHtml, startDriver } from './lab-driver';

const files = process.argv.slice(2);
if (!files.length || files.some((f) => !existsSync(f))) throw new Error('usage: npm run report-html -- <report.json> [...] (each file must exist)');
const d = await startDriver({ quiet: true });
try {
  for (const f of files) console.log(`HTML report written to ${await saveReportHtml(d, f)}`);
} finally {
  await d.close();
}
