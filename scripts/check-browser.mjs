// Fails early, with the install command, when no Chromium is found for the browser tests.
import { existsSync } from 'node:fs';

const candidates = [process.env.CHROME_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
const found = candidates.find((p) => p && existsSync(p));
if (!found) {
  console.error(
    'No Chromium found for the browser tests.\n' +
      '  Install it:   sudo apt-get install -y chromium      (Debian/Ubuntu)\n' +
      '  or point CHROME_PATH at a Chrome/Chromium binary:  CHROME_PATH=/path/to/chrome npm test',
  );
  process.exit(1);
}
