// npm run results-readme [-- --check]: regenerates the README's results figures from docs/results/*.json
// (src/lib/report/readme.ts); --check only says whether the README is current (exit 1 if not).
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { parseReport } from '../src/lib/report/schema';
import { replaceResults, resultsMarkdown } from '../src/lib/report/readme';

export function shippedReports(dir = 'docs/results') {
  return readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => ({ file: `${dir}/${f}`, report: parseReport(readFileSync(`${dir}/${f}`, 'utf8')) }));
}

if (process.argv[1]?.endsWith('results-readme.ts')) {
  const readme = readFileSync('README.md', 'utf8');
  const next = replaceResults(readme, resultsMarkdown(shippedReports()));
  if (process.argv.includes('--check')) {
    console.log(next === readme ? 'README results are current' : 'README results differ from docs/results: run npm run results-readme');
    process.exit(next === readme ? 0 : 1);
  }
  writeFileSync('README.md', next);
  console.log(next === readme ? 'README results were already current' : 'README results regenerated from docs/results');
}
