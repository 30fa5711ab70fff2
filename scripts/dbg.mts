import { createServer } from 'vite';
import { launchChromium } from '/work/main/tests/browser/chromium.ts';
const server = await createServer({ root: '/work/main', server: { port: 0, host: '127.0.0.1', hmr: false, ws: false }, logLevel: 'error' });
await server.listen();
const port = (server.httpServer!.address() as any).port;
const b = await launchChromium();
const p = await b.newPage({ viewport: { width: 1366, height: 1000 } });
p.on('console', m => console.log('[c]', m.type(), m.text().slice(0, 300)));
p.on('pageerror', e => console.log('[err]', e));
await p.goto(`http://127.0.0.1:${port}/${process.argv[2]}`);
await p.waitForTimeout(8000);
if (process.argv[4]) { await p.fill('[data-testid=train-steps]', '20'); await p.fill('[data-testid=train-eval-every]', '4'); await p.fill('[data-testid=train-eval-limit]', '4'); await p.click('[data-testid=train-start]'); }
await p.waitForTimeout(Number(process.argv[3] ?? 15000));
await p.screenshot({ path: '/tmp/dbg.png', fullPage: true });
console.log((await p.textContent('main'))?.slice(0, 1500));
await b.close(); await server.close();
