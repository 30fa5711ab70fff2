// The service worker adds the same Content-Security-Policy the servers send (scripts/csp.ts), so the GPU
// worker is covered on a static host too; and the policy keeps what the lab relies on.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { LAB_CSP } from '../../scripts/csp';

describe('lab CSP', () => {
  it('is the one the service worker adds', () => {
    const sw = readFileSync('public/sw.js', 'utf8');
    expect(/^const CSP = "([^"]+)";$/m.exec(sw)?.[1]).toBe(LAB_CSP);
  });

  it('allows no eval and no remote script, and only the model-URL rule for fetches', () => {
    const d = Object.fromEntries(LAB_CSP.split('; ').map((x) => [x.split(' ')[0], x.split(' ').slice(1)]));
    expect(d['script-src']).toEqual(["'self'", "'wasm-unsafe-eval'", 'blob:']);
    expect(d['connect-src']).toEqual(["'self'", 'https:', 'http://localhost:*', 'http://127.0.0.1:*', 'blob:', 'data:']);
    expect(d['object-src']).toEqual(["'none'"]);
    expect(LAB_CSP).not.toMatch(/'unsafe-eval'|script-src[^;]*'unsafe-inline'|\bhttp:(?!\/\/)/);
  });
});
