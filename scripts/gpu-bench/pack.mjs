// Packs the GPU bench into .gpubench/ so that one command runs it on a machine with an NVIDIA GPU and no Node,
// browser or registry (the device machine takes the working tree plus carried paths, 64 MiB in all):
//   bench.mjs      this repo's bench.ts bundled with tfjs and the lab's code (esbuild)
//   node.xz        the Node binary running this script (self-contained but for glibc/libstdc++), xz-compressed
//   dawn.node.gz   Dawn for Node (the `webgpu` npm package, linux-x64), gzip-compressed
//   lib/           the Vulkan loader (libvulkan.so.1) from this machine, for a GPU machine that has only the driver
//   run.sh         unpacks and runs: `bash .gpubench/run.sh OUTDIR [bench args]`
// Usage: npm run bench:gpu:pack   (downloads the `webgpu` package from the npm registry once, into .gpubench-cache/)
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';

const WEBGPU = 'webgpu@0.6.2'; // pinned: dawn.node is a native build; a new one is a new bench contender
const root = process.cwd();
const dir = join(root, '.gpubench');
const cache = join(root, '.gpubench-cache');
rmSync(dir, { recursive: true, force: true });
mkdirSync(join(dir, 'lib'), { recursive: true });
mkdirSync(cache, { recursive: true });

// 1. Dawn
const tgz = readdirSync(cache).find((f) => f.startsWith('webgpu-') && f.endsWith('.tgz'));
if (!tgz) execFileSync('npm', ['pack', WEBGPU, '--pack-destination', cache], { stdio: 'inherit' });
const tarball = join(cache, readdirSync(cache).find((f) => f.startsWith('webgpu-') && f.endsWith('.tgz')));
execFileSync('tar', ['xzf', tarball, '-C', cache, 'package/dist/linux-x64/dawn.node', 'package/LICENSE.md']);
writeFileSync(join(dir, 'dawn.node.gz'), gzipSync(readFileSync(join(cache, 'package/dist/linux-x64/dawn.node')), { level: 9 }));
copyFileSync(join(cache, 'package/LICENSE.md'), join(dir, 'DAWN-NODE-LICENSE.md'));

// 2. the bench, bundled (tfjs, the lab's kernels, models and trainer); dawn.node is loaded at run time
execFileSync('npx', ['esbuild', 'scripts/gpu-bench/bench.ts', '--bundle', '--platform=node', '--format=esm', '--target=node20',
  `--outfile=${join(dir, 'bench.mjs')}`, '--log-level=warning', '--minify',
  "--banner:js=import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"], { stdio: 'inherit' });

// 3. Node itself
const nodeBin = process.execPath;
const ldd = execFileSync('ldd', [nodeBin], { encoding: 'utf8' });
if (/libnode|libuv|libicu/.test(ldd)) throw new Error(`${nodeBin} links Node's libraries dynamically (${ldd.match(/lib(node|uv|icu)\S*/)[0]}): use a self-contained Node build to pack the bench.`);
execFileSync('sh', ['-c', `xz -T0 -6 -c "${nodeBin}" > "${join(dir, 'node.xz')}"`]);

// 4. the Vulkan loader
const loader = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/chromium/libvulkan.so.1'].find((p) => existsSync(p));
if (!loader) throw new Error('No Vulkan loader here: apt-get install -y libvulkan1');
copyFileSync(loader, join(dir, 'lib', 'libvulkan.so.1'));

copyFileSync(join(root, 'scripts/gpu-bench/run.sh'), join(dir, 'run.sh'));
const size = (p) => statSync(p).isDirectory() ? readdirSync(p).reduce((s, f) => s + size(join(p, f)), 0) : statSync(p).size;
const mb = (b) => (b / 2 ** 20).toFixed(1);
const tracked = execFileSync('sh', ['-c', 'git ls-files -z | xargs -0 cat | wc -c'], { encoding: 'utf8' });
console.log(`.gpubench: ${mb(size(dir))} MiB (node.xz ${mb(size(join(dir, 'node.xz')))}, dawn.node.gz ${mb(size(join(dir, 'dawn.node.gz')))}, bench.mjs ${mb(size(join(dir, 'bench.mjs')))}); with the tracked tree ${mb(size(dir) + Number(tracked))} MiB of the device's 64 MiB`);
