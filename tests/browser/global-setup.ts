// Starts one Vite dev server for all browser tests and tells them where it is.
import { createServer, type ViteDevServer } from 'vite';

let server: ViteDevServer | undefined;

export async function setup(): Promise<void> {
  server = await createServer({ server: { port: 0, host: '127.0.0.1', hmr: false, ws: false }, logLevel: 'error' });
  await server.listen();
  const addr = server.httpServer?.address();
  if (!addr || typeof addr === 'string') throw new Error('Vite server did not start');
  process.env.MEMGEN_BASE_URL = `http://127.0.0.1:${addr.port}`;
}

export async function teardown(): Promise<void> {
  await server?.close();
}
