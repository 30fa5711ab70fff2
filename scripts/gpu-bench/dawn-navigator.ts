// Gives Node a `navigator.gpu` from Dawn (the `webgpu` package's dawn.node) before tfjs-backend-webgpu loads:
// that backend registers itself only if `navigator.gpu` exists when its module runs. Imported first by bench.ts.
import { createRequire } from 'node:module';
import { join } from 'node:path';

const dawnPath = process.env.DAWN_NODE ?? join(process.cwd(), '.gpubench', 'dawn.node');
const req = createRequire(import.meta.url);
const dawn = req(dawnPath) as { create(flags: string[]): GPU; globals: Record<string, unknown> };
Object.assign(globalThis, dawn.globals);
const flags = (process.env.DAWN_FLAGS ?? '').split(' ').filter(Boolean);
export const gpu = dawn.create(flags);
Object.defineProperty(globalThis, 'navigator', { value: { gpu, hardwareConcurrency: 1, userAgent: 'node' }, configurable: true });
