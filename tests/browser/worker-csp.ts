// Probes the lab's GPU worker from inside: does its Content-Security-Policy refuse eval, new Function and a
// fetch to a host outside the model-URL rule? Used on the dev server (csp.test.ts) and the built site.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page, Worker } from 'playwright-core';

/** A server on every local address that counts the requests it gets; reached as http://127.0.0.2 it is a foreign host. */
export async function countingServer(): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const server: Server = createServer((_req, res) => {
    hits++;
    res.writeHead(200, { 'Access-Control-Allow-Origin': '*', 'Cross-Origin-Resource-Policy': 'cross-origin' });
    res.end('secret');
  });
  await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.2:${port}/exfiltrate`,
    hits: () => hits,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** The lab's GPU worker of `page` (waits for it to start). */
export async function gpuWorker(page: Page): Promise<Worker> {
  for (;;) {
    const w = page.workers().find((x) => /gpu\.worker/.test(x.url()));
    if (w) return w;
    await page.waitForEvent('worker', { timeout: 60_000 });
  }
}

export interface WorkerProbe {
  eval: string;
  fn: string;
  fetch: string;
  violations: string[];
}

/**
 * Runs eval, new Function and a fetch of `foreign` inside the worker, from a timer (code the test driver
 * evaluates directly is let through by the browser; code the worker runs itself is not).
 */
export async function probeWorker(worker: Worker, foreign: string): Promise<WorkerProbe> {
  return worker.evaluate(async (url) => {
    const violations: string[] = [];
    const onViolation = (e: Event) => {
      const v = e as SecurityPolicyViolationEvent;
      violations.push(`${v.effectiveDirective} ${v.blockedURI}`);
    };
    self.addEventListener('securitypolicyviolation', onViolation);
    const out = await new Promise<{ eval: string; fn: string; fetch: string }>((resolve) => {
      setTimeout(async () => {
        const r = { eval: '', fn: '', fetch: '' };
        try { (0, eval)('1 + 1'); r.eval = 'ran'; } catch (e) { r.eval = (e as Error).name; }
        try { new Function('return 1')(); r.fn = 'ran'; } catch (e) { r.fn = (e as Error).name; }
        try { r.fetch = `ran: ${await (await fetch(url)).text()}`; } catch (e) { r.fetch = (e as Error).name; }
        resolve(r);
      }, 0);
    });
    await new Promise((r) => setTimeout(r, 100)); // violation events are queued tasks
    self.removeEventListener('securitypolicyviolation', onViolation);
    return { ...out, violations };
  }, foreign);
}
