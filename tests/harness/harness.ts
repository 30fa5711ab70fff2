// Blank same-origin page for browser tests; exposes the backend switch and tfjs.
import { useBackend, tf } from '../../src/lib/engine/backend';

(window as unknown as Record<string, unknown>).lab = { useBackend, tf };
(window as unknown as Record<string, unknown>).harnessReady = true;
