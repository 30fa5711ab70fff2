"""PyTorch-on-CPU baseline for `npm run bench`: the same GPT-2 shape, batch and sequence as the lab's training
benchmark, timed the same way (tokens per second of full training steps). PyTorch is no dependency of the lab;
this script only gives the comparison figure (Debian's python3-torch with libopenblas0-openmp).

usage: /usr/bin/python3 bench/torch_gpt2_baseline.py --layers 2 --width 64 --heads 2 --vocab 111 --ctx 30 --batch 32 --steps 20
prints one JSON line."""
import argparse, json, math, time
import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
for k, v in dict(layers=2, width=64, heads=2, vocab=111, ctx=30, batch=32, steps=20, threads=2).items():
    p.add_argument(f"--{k}", type=int, default=v)
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
    def __init__(self):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(a.vocab, a.width), nn.Embedding(a.ctx, a.width)
        self.h = nn.ModuleList(Block(a.width, a.heads) for _ in range(a.layers))
        self.ln_f = nn.LayerNorm(a.width)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for b in self.h:
            x = b(x)
        return self.ln_f(x) @ self.wte.weight.T


m = GPT()
opt = torch.optim.AdamW(m.parameters(), lr=3e-3, weight_decay=0.1)
ids = torch.randint(0, a.vocab, (a.batch, a.ctx))


def step():
    logits = m(ids[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, a.vocab), ids[:, 1:].reshape(-1))
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
    opt.step()


step()
t0 = time.perf_counter()
for _ in range(a.steps):
    step()
s = time.perf_counter() - t0
print(json.dumps({"kind": "torch-cpu", "torch": torch.__version__, "threads": a.threads, "layers": a.layers, "width": a.width,
                  "batch": a.batch, "ctx": a.ctx, "tokensPerSec": a.steps * a.batch * a.ctx / s, "msPerStep": 1000 * s / a.steps}))
