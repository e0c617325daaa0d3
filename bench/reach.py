"""Where the spinners' originals rank among a word's table entries: ``python -m bench.reach``.

For every single-word swap of the benchmark spinners on calibration documents, the rank
of the true original among the observed word's entries in the decoder's word table, under
the order of `unspin.decode.WordTable` with ``order_prior`` set to each value asked for
(0: channel score alone). With ``--outcomes``, also what `unspin.restore` does with each
swap (restored, left alone, changed to another word), by where its original stands.
With ``--beyond``, for the originals' sources outside the table: the original's rank among
every word the context model scores for the slot, and among the observed word's skip-gram
neighbours (cosine over the shipped vectors), by where the original stands in the table.

    python -m bench.reach --docs 150 --priors 0 0.5 1 2
    python -m bench.reach --docs 100 --outcomes
    python -m bench.reach --docs 60 --spinners aiksaurus --priors 1 --beyond
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np

from .data import load_clean_docs, make_spun
from .spinners import SPINNERS


def word_swaps(docs, spinner: str, rate: float) -> list[tuple[str, str]]:
    """(observed, original) of every swap of one word for one word, lower-cased."""
    out = []
    for d in make_spun(SPINNERS[spinner](), docs, rate, 0):
        for s in d.swaps:
            a, b = s.spun_text.lower(), s.orig_text.lower()
            if " " not in a and " " not in b:
                out.append((a, b))
    return out


def ranks(table, lm, swaps: list[tuple[str, str]]) -> np.ndarray:
    """Rank of each swap's original among its observed word's entries (-1: absent)."""
    out = np.full(len(swaps), -1, dtype=np.int64)
    for k, (a, b) in enumerate(swaps):
        wa, wb = lm.index.get(a), lm.index.get(b)
        if wa is None or wb is None:
            continue
        hit = np.flatnonzero(table.orig[table.offsets[wa]:table.offsets[wa + 1]] == wb)
        if len(hit):
            out[k] = int(hit[0])
    return out


def place(table, k: int, observed: int, original: int) -> str:
    """Where an original stands among an observed word's table entries (LM ids)."""
    entries = table.orig[table.offsets[observed]:table.offsets[observed + 1]].tolist()
    return (f"first {k}" if original in entries[:k] else
            "in the table" if original in entries else "no source")


def outcomes(decoder, docs, spinner: str, rate: float) -> Counter:
    """(where the original stands, what restore did) for each single-word swap."""
    import unspin

    lm, table, k = decoder.lm, decoder.table(), decoder.params.max_candidates
    count: Counter = Counter()
    for d in make_spun(SPINNERS[spinner](), docs, rate, 0):
        edits = [e for e in unspin.restore(d.spun).edits if e.kind == "spin"]
        for s in d.swaps:
            a, b = s.spun_text.lower(), s.orig_text.lower()
            if " " in a or " " in b:
                continue
            wa, wb = lm.index.get(a), lm.index.get(b)
            if wa is None or wb is None:
                where = "unknown word"
            else:
                where = place(table, k, wa, wb)
            hit = [e for e in edits if e.start < s.spun_end and e.end > s.spun_start]
            did = ("left alone" if not hit else
                   "restored" if hit[0].replacement.lower() == b else "changed wrongly")
            count[(where, did)] += 1
    return count


def beyond(decoder, docs, spinner: str, rate: float) -> dict[str, list[tuple[int, int]]]:
    """Per place of the original in the table ("first K", "in the table", "no source"):
    (rank among the context model's words for the slot, rank among the observed word's
    vector neighbours) of each single-word swap; -1 where a word is outside the model or
    has no vector. Ranks count the words scored strictly higher (0: first)."""
    from unspin.lm import BOS, EOS, NONE
    from unspin.tokens import find_tokens, lower_tokens, token_starts

    lm, table, k = decoder.lm, decoder.table(), decoder.params.max_candidates
    model, cids = decoder._context_model()
    vectors, rows = decoder._topic_vectors()
    emb = model._vectors(np.arange(model.vocab))
    # Per context-model word, its row among the vectors (-1: none).
    lm_of = np.full(model.vocab, -1, dtype=np.int64)
    ok = cids >= 4
    lm_of[cids[ok][::-1]] = np.flatnonzero(ok)[::-1]  # the first LM id of each
    vrow = np.where(lm_of >= 0, rows[np.maximum(lm_of, 0)], -1)
    out: dict[str, list[tuple[int, int]]] = {}
    for d in make_spun(SPINNERS[spinner](), docs, rate, 0):
        toks = find_tokens(d.spun)
        at_char = {c: i for i, c in enumerate(token_starts(d.spun, toks).tolist())}
        ids = lm.ids(lower_tokens(toks, straight_quotes=True))
        # One padded sentence per document: the rank is an estimate, context may cross
        # sentence ends.
        g = cids[np.concatenate(([NONE, BOS], ids, [EOS])).astype(np.int64)]
        found = []
        for sw in d.swaps:
            a, b = sw.spun_text.lower(), sw.orig_text.lower()
            wa, wb = lm.index.get(a), lm.index.get(b)
            if " " in a or " " in b or wa is None or wb is None or sw.spun_start not in at_char:
                continue
            found.append((at_char[sw.spun_start] + 2, cids[wa], cids[wb],
                          place(table, k, wa, wb)))
        if not found:
            continue
        vec = model.slot_vectors(g, np.array([f[0] for f in found]))
        for (_, ca, cb, where), v in zip(found, vec, strict=True):
            r_ctx = r_vec = -1
            if ca >= 4 and cb >= 4:
                sc = emb @ v + model.bias
                sc[:4] = -np.inf
                sc[ca] = -np.inf
                r_ctx = int((sc > sc[cb]).sum())
                if vrow[ca] >= 0 and vrow[cb] >= 0:
                    cos = np.full(model.vocab, -np.inf, dtype=np.float32)
                    has = vrow >= 0
                    cos[has] = vectors[vrow[has]] @ vectors[vrow[ca]]
                    cos[ca] = -np.inf
                    r_vec = int((cos > cos[cb]).sum())
            out.setdefault(where, []).append((r_ctx, r_vec))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.reach", description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=150, help="calibration documents")
    ap.add_argument("--rate", type=float, default=0.2)
    ap.add_argument("--spinners", nargs="*", default=["aiksaurus", "wordnet"])
    ap.add_argument("--priors", nargs="*", type=float, default=[0.0, 1.0])
    ap.add_argument("--outcomes", action="store_true", help="also run restore on the swaps")
    ap.add_argument("--beyond", action="store_true",
                    help="also the originals' ranks by the context model and the vectors")
    args = ap.parse_args(argv)

    from unspin.decode import WordTable
    from unspin.models import get_models

    decoder = get_models().decoder
    docs = load_clean_docs(args.docs, split="calib", seed=0)
    shipped = decoder.params.order_prior
    print("| spinner | order_prior | first 5 | first 10 | first 15 | first 30 | anywhere |")
    print("|---|---|---|---|---|---|---|")
    for name in args.spinners:
        swaps = word_swaps(docs, name, args.rate)
        for prior in args.priors:
            decoder.params.order_prior = prior
            table = WordTable.build(decoder.lm, decoder.source, decoder.params)
            r = ranks(table, decoder.lm, swaps)
            cells = [f"{100 * np.mean((r >= 0) & (r < n)):.1f} %" for n in (5, 10, 15, 30)]
            print(f"| {name} ({len(swaps)} swaps) | {prior:g} | {' | '.join(cells)} | "
                  f"{100 * np.mean(r >= 0):.1f} % |")
    decoder.params.order_prior = shipped
    if args.beyond:
        for name in args.spinners:
            print(f"\n{name}: the original's rank by the context model (all its words) and "
                  "among the observed word's vector neighbours")
            print("| place in the table | swaps | model first | model top 10 | model top 100 "
                  "| model n/a | vectors top 10 | vectors top 100 | vectors n/a |")
            print("|---|---|---|---|---|---|---|---|---|")
            for where, ranks_ in sorted(beyond(decoder, docs, name, args.rate).items()):
                r = np.array(ranks_)
                c, v = r[:, 0], r[:, 1]

                def share(x, n):
                    return f"{100 * np.mean((x >= 0) & (x < n)):.1f} %"

                print(f"| {where} | {len(r)} | {share(c, 1)} | {share(c, 10)} | "
                      f"{share(c, 100)} | {100 * np.mean(c < 0):.1f} % | {share(v, 10)} | "
                      f"{share(v, 100)} | {100 * np.mean(v < 0):.1f} % |")
    if args.outcomes:
        for name in args.spinners:
            count = outcomes(decoder, docs, name, args.rate)
            total = sum(count.values())
            print(f"\n{name}: {total} single-word swaps")
            for (where, did), n in sorted(count.items()):
                print(f"  {where:>14} / {did:<15} {n:6d}  {100 * n / total:5.1f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
