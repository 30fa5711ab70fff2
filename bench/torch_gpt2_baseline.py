"""PyTorch-on-CPU baseline for `npm run bench`: the same GPT-2 shape, batch and sequence as the lab's training
benchmark, timed the same way (full training steps: forward, backward, clip, AdamW). Throughput counts the real
(unpadded) tokens the lab's batches hold (--tokens-per-step), never the padded B x T. PyTorch is no dependency of
the lab; this script only gives the comparison figure (Debian's python3-torch with libopenblas0-openmp).

one run:  /usr/bin/python3 bench/torch_gpt2_baseline.py --layers 2 --width 64 --heads 2 --vocab 111 --ctx 30 \
              --batch 32 --steps 20 --threads 1 [--tokens-per-step 700]
served:   /usr/bin/python3 bench/torch_gpt2_baseline.py --serve --threads 2
          then one JSON object per stdin line (the same keys as the flags, tokensPerStep for --tokens-per-step),
          one JSON line back per request; models are built once per shape, so rounds can alternate with the lab.
The thread count is fixed per process (set OMP_WAIT_POLICY=PASSIVE in its environment for shared cores)."""
import argparse, json, math, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
for k, v in dict(layers=2, width=64, heads=2, vocab=111, ctx=30, batch=32, steps=20, threads=2, tokens_per_step=0).items():
    p.add_argument(f"--{k.replace('_', '-')}", type=int, default=v, dest=k)
p.add_argument("--serve", action="store_true")
a = p.parse_args()
torch.manual_seed(0)
torch.set_num_threads(a.threads)


class Block(nn.Module):
    def __init__(self, C, NH):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.c_attn, self.c_proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        self.c_fc, self.mlp_proj = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)
        self.NH = NH

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.NH, C // self.NH).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // self.NH)  # torch 1.13 has no fused SDPA
        att = att.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + self.c_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, r):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(r["vocab"], r["width"]), nn.Embedding(r["ctx"], r["width"])
        self.h = nn.ModuleList(Block(r["width"], r["heads"]) for _ in range(r["layers"]))
        self.ln_f = nn.LayerNorm(r["width"])

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for b in self.h:
            x = b(x)
        return self.ln_f(x) @ self.wte.weight.T


built = {}


def run(r):
    key = tuple(r[k] for k in ("layers", "width", "heads", "vocab", "ctx", "batch"))
    if key not in built:
        m = GPT(r)
        opt = torch.optim.AdamW(m.parameters(), lr=3e-3, weight_decay=0.1)
        ids = torch.randint(0, r["vocab"], (r["batch"], r["ctx"]))

        def step():
            logits = m(ids[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, r["vocab"]), ids[:, 1:].reshape(-1))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            opt.step()

        step()  # warm-up
        built[key] = step
    step = built[key]
    t0 = time.perf_counter()
    for _ in range(r["steps"]):
        step()
    s = time.perf_counter() - t0
    tokens = r.get("tokensPerStep") or r["batch"] * r["ctx"]
    return {"kind": "torch-cpu", "torch": torch.__version__, "threads": a.threads, "layers": r["layers"], "width": r["width"],
            "batch": r["batch"], "ctx": r["ctx"], "tokensPerStep": tokens, "tokensPerSec": r["steps"] * tokens / s,
            "msPerStep": 1000 * s / r["steps"]}


if a.serve:
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(run(json.loads(line))), flush=True)
else:
    r = {k: getattr(a, k) for k in ("layers", "width", "heads", "vocab", "ctx", "batch", "steps")}
    r["tokensPerStep"] = a.tokens_per_step
    print(json.dumps(run(r)))
