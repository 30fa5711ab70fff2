// zod, set up once for the lab: jitless, because zod's fast path compiles validators with `new Function`, which
// the page's Content-Security-Policy forbids (no 'unsafe-eval'); even its caught probe would be reported as a
// violation. Every schema in the lab imports `z` from here.
import { z } from 'zod';

z.config({ jitless: true });

export { z };
