// A helper thread of the wasm SIMD quantized matmul (see QDotPool in simd.ts): it shares tfjs-wasm's memory,
// sleeps on a control word there, and computes its slice of W's rows for each job the calling thread posts.
// It never touches tensors or the DOM; results are the same bits as one thread (rows are independent).
interface Init { module: WebAssembly.Module; memory: WebAssembly.Memory; ctrl: number; index: number; count: number }

self.onmessage = (e: MessageEvent<Init>) => {
  const { module, memory, ctrl, index, count } = e.data;
  const k = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as {
    rows(fmt: number, w: number, N: number, K: number, M: number, scratch: number, y: number, n0: number, n1: number): void;
  };
  // control words (i32): 0 job sequence, 1 format (-1 = stop), 2 w, 3 N, 4 K, 5 M, 6 scratch, 7 y, 8 finished helpers
  const c = new Int32Array(memory.buffer, ctrl, 16);
  (self as unknown as Worker).postMessage('ready');
  let seq = Atomics.load(c, 0);
  for (;;) {
    Atomics.wait(c, 0, seq);
    seq = Atomics.load(c, 0);
    const fmt = c[1];
    if (fmt < 0) break;
    const N = c[3];
    k.rows(fmt, c[2], N, c[4], c[5], c[6], c[7], Math.floor((N * index) / count), Math.floor((N * (index + 1)) / count));
    Atomics.add(c, 8, 1);
    Atomics.notify(c, 8);
  }
  self.close();
};
