"""Train the context model (build-time only; PyTorch, a GPU makes it minutes).

The model scores which word fits a slot given the four words on each side (a small
feed-forward network over their embeddings, the output tied to the input embeddings). The
decoder uses it to compare a spun word with its candidate originals in context, where the
trigram model sees only two words on one side. Inference is numpy (`unspin.context`);
PyTorch is needed only here.

Input: the ids that ``scripts/prepare_context_data.py`` wrote. Output: an ``.npz`` of
float16 arrays (``emb``, ``bias``, ``w1``, ``b1``, ``w2``, ``b2``), converted for shipping by
``scripts/build_context.py``.

Usage: python scripts/train_context.py DATA.u16.xz OUT.npz [--minutes 6] [--dim 128]
"""

from __future__ import annotations

import argparse
import lzma
import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

SIDE = 4
OFFSETS = [-4, -3, -2, -1, 1, 2, 3, 4]
FIRST_WORD = 4  # ids below are <unk>, <s>, </s>, <none>


class ContextModel(nn.Module):
    def __init__(self, vocab: int, dim: int, hidden: int):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        nn.init.normal_(self.emb.weight, std=0.05)
        self.fc1 = nn.Linear(len(OFFSETS) * dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.bias = nn.Parameter(torch.zeros(vocab))

    def forward(self, ctx: torch.Tensor) -> torch.Tensor:
        h = self.emb(ctx).flatten(1)
        h = self.fc2(F.relu(self.fc1(h)))
        return h @ self.emb.weight.T + self.bias


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("out")
    ap.add_argument("--vocab", type=int, default=50_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--batch", type=int, default=8192)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--noise", type=float, default=0.1,
                    help="share of context words replaced by random ones (spun context)")
    ap.add_argument("--minutes", type=float, default=6.0)
    ap.add_argument("--max-tokens", type=int, default=0)
    ap.add_argument("--save-every", type=float, default=60.0, help="seconds")
    args = ap.parse_args()
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(1)
    t0 = time.time()
    with lzma.open(args.data, "rb") as fh:
        raw = np.frombuffer(fh.read(), dtype=np.uint16)
    if args.max_tokens:
        raw = raw[: args.max_tokens]
    data = torch.from_numpy(raw.astype(np.int64)).to(dev)
    n = len(data)
    print(f"{n:,} tokens loaded in {time.time() - t0:.1f}s on {dev}", flush=True)
    targets = torch.nonzero(data >= FIRST_WORD).squeeze(1)
    n_val = min(200_000, len(targets) // 50)
    val_pos, train_pos = targets[-n_val:], targets[:-n_val]
    offs = torch.tensor(OFFSETS, device=dev)
    model = ContextModel(args.vocab, args.dim, args.hidden).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0, betas=(0.9, 0.98))
    budget = args.minutes * 60.0
    warm = 0.03 * budget

    def windows(pos: torch.Tensor, noise: float) -> torch.Tensor:
        ctx = data[(pos[:, None] + offs).clamp(0, n - 1)]
        if noise > 0:
            swap = (torch.rand(ctx.shape, device=dev) < noise) & (ctx >= FIRST_WORD)
            rnd = data[torch.randint(0, n, ctx.shape, device=dev)]
            ctx = torch.where(swap & (rnd >= FIRST_WORD), rnd, ctx)
        return ctx

    def evaluate() -> tuple[float, float]:
        model.eval()
        losses, hits, count = 0.0, 0, 0
        with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16,
                                             enabled=dev.type == "cuda"):
            for s in range(0, n_val, args.batch):
                pos = val_pos[s:s + args.batch]
                logits = model(windows(pos, 0.0)).float()
                losses += F.cross_entropy(logits, data[pos], reduction="sum").item()
                hits += (logits.argmax(1) == data[pos]).sum().item()
                count += len(pos)
        model.train()
        return losses / count, hits / count

    def save() -> None:
        sd = {k: v.detach().float().cpu().numpy() for k, v in model.state_dict().items()}
        np.savez(args.out, emb=sd["emb.weight"].astype(np.float16),
                 bias=sd["bias"].astype(np.float16),
                 w1=sd["fc1.weight"].T.astype(np.float16), b1=sd["fc1.bias"].astype(np.float16),
                 w2=sd["fc2.weight"].T.astype(np.float16), b2=sd["fc2.bias"].astype(np.float16),
                 offsets=np.array(OFFSETS, dtype=np.int8))

    start = time.time()
    last_save = start
    step = 0
    seen = 0
    while True:
        el = time.time() - start
        if el >= budget:
            break
        lr = args.lr * min(1.0, (el + 1e-3) / warm) * 0.5 * (1 + math.cos(math.pi * el / budget))
        for group in opt.param_groups:
            group["lr"] = lr
        pos = train_pos[torch.randint(0, len(train_pos), (args.batch,), device=dev)]
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            logits = model(windows(pos, args.noise))
        loss = F.cross_entropy(logits.float(), data[pos])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        seen += args.batch
        if step % 500 == 0:
            print(f"step {step} {el:.0f}s seen {seen / 1e6:.0f}M loss {loss.item():.3f} "
                  f"lr {lr:.2e}", flush=True)
        if time.time() - last_save > args.save_every:
            vl, va = evaluate()
            print(f"  val loss {vl:.3f} ppl {math.exp(vl):.1f} acc {va:.3f}", flush=True)
            save()
            last_save = time.time()
    vl, va = evaluate()
    print(f"final: {step} steps, {seen / 1e6:.0f}M positions, val loss {vl:.3f} "
          f"ppl {math.exp(vl):.1f} acc {va:.3f}", flush=True)
    save()


if __name__ == "__main__":
    main()
