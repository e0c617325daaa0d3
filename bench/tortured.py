"""Tortured phrases: ``python -m bench.tortured [--set term=2.3]``.

Scientific "tortured phrases" are multiword terms put through a spinner ("profound
learning" for "deep learning"). unspin ships a hand-written term table for them
(``src/unspin/data/terms.tsv``); this benchmark measures what it restores and what it
breaks, on short science-style paragraphs written here (no corpus needed):

- **tortured**: per term of the table (singular entries whose original is a noun phrase),
  a paragraph of three sentences, the middle one holding the tortured phrase. Measured:
  share of tortured phrases restored exactly by `unspin.restore` (and wrong edits on them),
  other edits per 100 words (false edits), `unspin.check`'s score and whether a span with
  the right suggestion covers the phrase.
- **clean**: the same paragraphs with the original term: edits per 100 words.
- **natural**: hand-written sentences that use an observed phrase of the table in its
  ordinary sense ("a profound learning experience"): edits on that phrase.
- **corpus** (``--corpus FILE...``, optional): how often the table's observed phrases occur
  in ordinary text (say the language model's training text, ``build/corpus/train.txt``),
  each occurrence a chance of a false alarm.
- **held out**: the table split in two halves by a hash of the observed phrase; each half's
  tortured phrases restored with only the *other* half loaded, so the rest of unspin
  (thesauri, vectors, language model) has to find them: what a term missing from the table
  gets.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import zlib
from pathlib import Path

import unspin
from unspin import models as unspin_models
from unspin.candidates import CandidateSource, load_terms
from unspin.decode import Decoder

TEMPLATES = (
    "In this paper, we propose a new approach based on {t} for large-scale problems.",
    "Our experiments show that {t} improves the results on all three datasets.",
    "Recent studies have applied {t} to a wide range of practical problems.",
    "We review the recent literature on {t} and discuss the open questions.",
    "The role of {t} in this setting has not been studied in detail.",
    "These findings suggest that {t} deserves further attention from researchers.",
    "A detailed analysis of {t} is given in the next section of the paper.",
    "Several authors have reported similar observations about {t} in earlier work.",
)
FILLERS = (
    "The data were collected between 2015 and 2019 at two sites.",
    "All measurements were repeated three times to estimate the variance.",
    "The remainder of this paper is organized as follows.",
    "We compare the method with four baselines from the literature.",
    "The code and the data used in this study are publicly available.",
    "Section 4 describes the experimental setup in more detail.",
    "The authors thank the reviewers for their helpful comments.",
    "Limitations of the study and directions for future work are discussed at the end.",
    "The sample consisted of 120 participants aged between 18 and 65.",
    "Results are reported as mean values with their standard deviations.",
    "The first part of the study was carried out in the laboratory.",
    "We used the same settings for every model to keep the comparison fair.",
)
# Observed phrases of the table in their ordinary sense: nothing should change in them.
NATURAL = (
    ("He described the trip as a profound learning experience for the whole team.",
     "profound learning"),
    ("The trail wound through an irregular woodland of oak, birch and pine.",
     "irregular woodland"),
    ("The patient was found to have a malignant growth in the liver.", "malignant growth"),
    ("Her choice tree of options was drawn on the whiteboard for the team.", "choice tree"),
    ("The old mill had a huge information board at the entrance.", "huge information"),
    ("The cast gave a bogus positive spin to a bad review.", "bogus positive"),
    ("They took a wind vitality drink before the race.", "wind vitality"),
    ("The attractive field of candidates made the decision hard for the committee.",
     "attractive field"),
    ("The time area of the museum was closed for repairs.", "time area"),
    ("The cold made him move learning to the indoor hall.", "move learning"),
    ("The sprinter set a limit condition for his training plan.", "limit condition"),
    ("A heat move by the government surprised the markets.", "heat move"),
    ("The team took the edge location near the river for the camp.", "edge location"),
    ("The factory sent an issue location report to the head office.", "issue location"),
    ("There was a remote organization of volunteers in the mountains.", "remote organization"),
    ("The regional store has an open key policy for its staff lockers.", "open key"),
)
# Originals that are not noun phrases, for which the templates do not fit.
NOT_NOUNS = {"statistically significant", "signal to noise", "precision and recall",
             "sensitivity and specificity"}


def _words(text: str) -> int:
    return len(re.findall(r"\w+", text))


def _entries(terms: dict) -> list[tuple[str, str]]:
    """(observed, original) singular noun-phrase entries, one per observed phrase."""
    out = []
    for obs, origs in terms.items():
        orig = " ".join(next(iter(origs)))
        if orig in NOT_NOUNS or obs.endswith("s") and orig.endswith("s"):
            continue  # plural entries: the singular one is tested
        out.append((obs, orig))
    return out


def _paragraph(obs: str, orig: str, phrase: str) -> tuple[str, int, int]:
    """A paragraph with ``phrase`` in its middle sentence, and the phrase's offsets."""
    h = zlib.crc32(obs.encode())
    sent = TEMPLATES[h % len(TEMPLATES)]
    a, b = FILLERS[h % len(FILLERS)], FILLERS[(h // 7 + 1) % len(FILLERS)]
    if a == b:
        b = FILLERS[(h + 1) % len(FILLERS)]
    start = len(a) + 1 + sent.index("{t}")
    return f"{a} {sent.format(t=phrase)} {b}", start, start + len(phrase)


def use_terms(terms: dict) -> None:
    """Make `unspin`'s default models use this term table (a fresh source and decoder)."""
    base = unspin_models.get_models()
    src = CandidateSource(terms=terms)
    context = unspin_models.data_path("context.bin")
    dec = Decoder(base.lm, src, base.decoder.params, context if context.is_file() else None)
    lm_path = unspin_models._default_lm_path or unspin_models.data_path("lm.bin")
    unspin_models._cache[(str(lm_path), None)] = unspin_models.Models(base.lm, src, dec)


# Keyword arguments of every `unspin.restore` call (``--two-step`` adds ``two_step``).
RESTORE: dict = {}


def _overlaps(a0: int, a1: int, b0: int, b1: int) -> bool:
    return a0 < b1 and b0 < a1


def measure(entries: list[tuple[str, str]]) -> dict:
    """Restore and check the tortured and clean paragraphs of these entries."""
    restored = wrong = false_edits = words = 0
    spans_right = located = spun = 0
    clean_edits = clean_words = clean_spun = 0
    misses = []
    for obs, orig in entries:
        text, s0, s1 = _paragraph(obs, orig, obs)
        r = unspin.restore(text, **RESTORE)
        words += _words(text)
        on = [e for e in r.edits if _overlaps(e.start, e.end, s0, s1)]
        false_edits += len(r.edits) - len(on)
        # Restored: the edits on the phrase turn it into the original ("lung malignant
        # growth" may come back as "lung" + "malignant growth" -> "cancer").
        fixed = text
        for e in sorted(on, key=lambda e: -e.start):
            fixed = fixed[:e.start] + e.replacement + fixed[e.end:]
        ok = fixed.lower() == _paragraph(obs, orig, orig)[0].lower()
        restored += ok
        wrong += bool(on) and not ok
        if not ok:
            misses.append(obs)
        c = unspin.check(text)
        spun += c.spun
        hit = [s for s in c.spans if _overlaps(s.start, s.end, s0, s1)]
        located += bool(hit)
        spans_right += any(s.suggestion.lower() == orig for s in hit)
        clean_text, _, _ = _paragraph(obs, orig, orig)
        rc = unspin.restore(clean_text, **RESTORE)
        clean_edits += len(rc.edits)
        clean_words += _words(clean_text)
        clean_spun += unspin.check(clean_text).spun
    n = max(len(entries), 1)
    return {
        "phrases": len(entries),
        "restored": restored / n, "wrong": wrong / n,
        "false_per_100_words": 100 * false_edits / max(words, 1),
        "check_spun": spun / n, "check_span_located": located / n,
        "check_span_right": spans_right / n,
        "clean_edits_per_100_words": 100 * clean_edits / max(clean_words, 1),
        "clean_check_spun": clean_spun / n,
        "missed": misses,
    }


def natural() -> dict:
    """Edits on observed phrases used in their ordinary sense."""
    changed = []
    for text, phrase in NATURAL:
        s0 = text.lower().index(phrase)
        s1 = s0 + len(phrase)
        r = unspin.restore(text, **RESTORE)
        if any(_overlaps(e.start, e.end, s0, s1) for e in r.edits):
            changed.append(phrase)
    return {"sentences": len(NATURAL), "changed": len(changed), "which": changed}


def corpus_hits(paths: list[Path]) -> dict:
    """Occurrences of the loaded term table's observed phrases in text files, found as
    `unspin` finds them (`Decoder.term_hits` on unspin's tokens)."""
    from unspin.tokens import find_tokens, lower_tokens

    models = unspin_models.get_models()
    hits: dict[str, int] = {}
    tokens = 0
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                toks = lower_tokens(find_tokens(line), straight_quotes=True)
                tokens += len(toks)
                for i, ln in models.decoder.term_hits(toks, models.lm.ids(toks)):
                    key = " ".join(toks[i:i + ln])
                    hits[key] = hits.get(key, 0) + 1
    return {"tokens": tokens, "occurrences": sum(hits.values()),
            "which": sorted(hits.items(), key=lambda kv: -kv[1])}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.tortured")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="override a DecodeParams field (repeatable), e.g. term=4")
    ap.add_argument("--skip-held-out", action="store_true")
    ap.add_argument("--corpus", type=Path, nargs="*", default=[],
                    help="text files in which to count the observed phrases")
    ap.add_argument("--json", type=Path, help="write the results here as well")
    ap.add_argument("--two-step", action="store_true", help="restore with two_step=True")
    args = ap.parse_args(argv)
    RESTORE.clear()
    if args.two_step:
        RESTORE["two_step"] = True
    terms = load_terms(unspin_models.data_path("terms.tsv"))
    params = unspin_models.get_models().decoder.params
    for item in args.set:
        name, value = item.split("=", 1)
        params = dataclasses.replace(params, **{name: type(getattr(params, name))(value)})
    unspin_models.get_models().decoder.params = params

    def run(table: dict, entries: list[tuple[str, str]]) -> dict:
        use_terms(table)
        unspin_models.get_models().decoder.params = params
        return measure(entries)

    entries = _entries(terms)
    out: dict = {"in_table": run(terms, entries)}
    use_terms(terms)
    unspin_models.get_models().decoder.params = params
    out["natural"] = natural()
    if not args.skip_held_out:
        halves = [{k: v for k, v in terms.items() if zlib.crc32(k.encode()) % 2 == h}
                  for h in (0, 1)]
        parts = [run(halves[1 - h], _entries(halves[h])) for h in (0, 1)]
        out["held_out"] = {
            "phrases": sum(p["phrases"] for p in parts),
            "restored": sum(p["restored"] * p["phrases"] for p in parts)
            / max(sum(p["phrases"] for p in parts), 1),
            "wrong": sum(p["wrong"] * p["phrases"] for p in parts)
            / max(sum(p["phrases"] for p in parts), 1),
            "check_span_right": sum(p["check_span_right"] * p["phrases"] for p in parts)
            / max(sum(p["phrases"] for p in parts), 1),
        }
        out["no_table"] = run({}, entries)
    if args.corpus:
        use_terms(terms)
        out["corpus"] = corpus_hits(args.corpus)
    for name, res in out.items():
        shown = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in res.items()
                 if k not in ("missed", "which")}
        print(name, json.dumps(shown))
    print("missed (in table):", ", ".join(out["in_table"]["missed"]))
    print("natural changed:", ", ".join(out["natural"]["which"]))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
