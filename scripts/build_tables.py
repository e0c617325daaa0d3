"""Build the shipped candidate tables in src/unspin/data/ (build-time only).

The run-time (``unspin.candidates``) needs only the files this script writes; WordNet,
MyThes, gensim and the word vectors are needed here and nowhere else.

Usage:
    python scripts/build_tables.py [--wordnet /usr/share/wordnet]
        [--mythes /usr/share/mythes/th_en_US_v2.dat] [--kv build/w2v.kv]
        [--corpus build/corpus/train.txt] [--out src/unspin/data]
        [--phrases src/unspin/data/phrases.tsv]
        [--observed 60000] [--vector-vocab 30000] [--cap 50] [--rare-cap 30]

Word frequencies come from the KeyedVectors vocabulary (frequency-sorted). When the
vectors file does not exist, frequencies are counted from ``--corpus`` instead and the
vector part (VECTOR flag, cosines, vectors.npy) is skipped, so the lexical tables can be
built and tested before the vectors are trained.

Outputs (all in --out):
    cand_words.txt     newline-joined strings; single words and space-joined phrases.
                       The first ``len(vectors.npy)`` lines are the vector vocabulary.
    cand_offsets.npy   uint32 [n_words + 1]; candidates of observed word i are the
                       entries offsets[i]:offsets[i+1] of the three arrays below.
    cand_orig.npy      uint32 index of the proposed original (into cand_words.txt).
    cand_flags.npy     uint8  bit set of sources (see unspin.candidates FLAG_*).
    cand_cos.npy       float16 cosine observed~original (0 when unknown or multiword).
    cand_fanout.npy    uint16 per word: distinct observed alternatives it has as original.
    vectors.npy        float16 [n_vec, dim], unit-normalised rows (absent without --kv).
Input kept in the repo and baked into the table: phrases.tsv (hand-written).

Coverage report (needs bench/spinners.py and the held-out corpus; builds nothing):
    python scripts/build_tables.py --coverage 200 [--rate 0.3] [--split calib] [--out DIR]
spins held-out documents with the benchmark spinners and reports the share of swaps whose
original is among the shipped candidates of the spun token(s), cumulatively by source.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from lemminflect import getAllLemmas, getInflection

FLAG_WN_SYN, FLAG_WN_LOOSE, FLAG_MYTHES, FLAG_VECTOR, FLAG_PHRASE, FLAG_NUMBER = (
    1, 2, 4, 8, 16, 32)
LEXICAL = FLAG_WN_SYN | FLAG_WN_LOOSE | FLAG_MYTHES

OUTPUTS = ("cand_words.txt", "cand_offsets.npy", "cand_orig.npy", "cand_flags.npy",
           "cand_cos.npy", "cand_fanout.npy", "vectors.npy", "phrases.tsv", "LICENSES.md")
ROOT = Path(__file__).resolve().parent.parent
TOKEN_RE = re.compile(
    r"[^\W\d_]+(?:[-'’](?![sS]\b)[^\W\d_]+)*|['’][sS]\b|\d+(?:[.,:]\d+)*|[^\w\s]|_")

POS_TAGS = {
    "n": ("NN", "NNS"),
    "v": ("VB", "VBD", "VBG", "VBN", "VBZ"),
    "a": ("JJ", "JJR", "JJS"),
    "r": ("RB", "RBR", "RBS"),
}
UPOS = {"NOUN": "n", "PROPN": "n", "VERB": "v", "AUX": "v", "ADJ": "a", "ADV": "r"}

# WordNet pointers that count as a "loose" relation (either direction, senses merged).
# Instance pointers (@i, ~i) are left out: they link classes to proper names.
LOOSE_POINTERS = {"&", "^", "@", "~", "$", "+", "\\", "<", "=", "*"}

# Function words: never proposed as originals of (or from) content words by the lexical
# and vector sources; their rewrites come from the hand-written phrase table.
STOP = frozenset("""
a an the and or but nor so yet for of in on at by to from with without into onto upon
about above below over under between among through during before after since until till
while whereas although though because if unless whether than then that this these those
there here where when why how what which who whom whose it its he him his she her hers
they them their theirs we us our ours you your yours i me my mine myself itself himself
herself themselves ourselves yourself be is am are was were been being have has had
having do does did doing done will would shall should can could may might must not no
also too very just only even still already as such both either neither each every all
any some many much more most less least few several other another same own one ones
's s t d ll re ve m o don't doesn't didn't isn't aren't wasn't weren't won't can't
couldn't shouldn't wouldn't off out up down within across along around against behind
beyond near else
""".split())

# Directional / contrast pairs a thesaurus or vector space would pair but a spinner never
# swaps; compared on lemmas, so all inflections are covered.
CONTRAST_PAIRS = """
high low|rise fall|rise drop|rise decline|increase decrease|increase reduce|increase decline
increase drop|increase cut|increase fall|grow shrink|growth decline|gain loss|gain lose
profit loss|more less|most least|before after|earlier later|early late|first last
first final|begin end|beginning end|start end|start finish|open close|opening closing
north south|east west|northern southern|eastern western|northeast southwest
northwest southeast|northward southward|eastward westward|up down|upper lower
upward downward|top bottom|above below|over under|maximum minimum|max min|inside outside
internal external|interior exterior|import export|buy sell|buyer seller|purchase sale
win lose|won lost|winner loser|victory defeat|success failure|succeed fail
left right|male female|man woman|men women|boy girl|husband wife|father mother|son daughter
brother sister|king queen|prince princess|uncle aunt|nephew niece|he she|his her
past future|old new|young old|ancient modern|positive negative|strong weak
strengthen weaken|rich poor|wealthy poor|big small|large small|long short|tall short
wide narrow|heavy light|hot cold|warm cool|summer winter|spring autumn|day night
morning evening|dawn dusk|light dark|black white|yes no|true false|accept reject
agree disagree|include exclude|add remove|arrive depart|arrival departure|enter exit
entrance exit|push pull|send receive|sender recipient|teach learn|teacher student
question answer|attack defend|attacker defender|offense defense|offence defence
offensive defensive|guilty innocent|legal illegal|public private|domestic foreign
urban rural|majority minority|senior junior|major minor|ascending descending
forward backward|front back|front rear|raise lower|lift lower|survive die|live die
birth death|born died|love hate|friend enemy|ally enemy|peace war|happy sad
possible impossible|able unable|same different|similar different|always never
everything nothing|everyone nobody|many few|often rarely|often seldom|import exported
inbound outbound|incoming outgoing|input output|plus minus|minimum maximum|upstream downstream
uphill downhill|upstairs downstairs|ascend descend|expand contract|expansion contraction
inflation deflation|surplus deficit|credit debit|asset liability|employer employee
landlord tenant|parent child|predecessor successor|ancestor descendant|previous next
former latter|prior subsequent|pre post|remember forget|found lost|find lose|wet dry
full empty|clean dirty|cheap expensive|fast slow|quick slow|hard soft|hard easy
difficult easy|safe dangerous|healthy sick|alive dead|present absent|present past
presence absence|appear disappear|visible invisible|legal unlawful|lawful unlawful
win loss|home away|offline online|in out|on off|upside downside|sunrise sunset
""".replace("\n", "|").split("|")
# Closed classes whose members are distributional neighbours but never substitutes.
CONTRAST_GROUPS = [
    "january february march april may june july august september october november december",
    "jan feb mar apr jun jul aug sep sept oct nov dec",
    "monday tuesday wednesday thursday friday saturday sunday",
    "spring summer autumn fall winter",
    "north south east west northern southern eastern western northeast northwest "
    "southeast southwest northeastern northwestern southeastern southwestern",
    "red blue green yellow black white orange purple pink brown grey gray violet",
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty "
    "sixty seventy eighty ninety hundred thousand million billion trillion",
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth",
    "once twice thrice",
    "single double triple quadruple",
    "democrat republican democratic",
    "gold silver bronze",
    "husband wife son daughter father mother brother sister uncle aunt nephew niece "
    "grandfather grandmother grandson granddaughter",
    "king queen prince princess duke duchess",
    "morning afternoon evening night noon midnight",
    "yesterday today tomorrow tonight",
    "left right",
    "men women boys girls",
    "man woman boy girl",
    "mr mrs ms miss",
]

NUMBERS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
           "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
           "seventeen", "eighteen", "nineteen", "twenty"]
TENS = {30: "thirty", 40: "forty", 50: "fifty", 60: "sixty", 70: "seventy", 80: "eighty",
        90: "ninety"}
ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
            "ninth", "tenth"]


def log(*a: object) -> None:
    print(f"[{time.strftime('%H:%M:%S')}]", *a, file=sys.stderr, flush=True)


def tokens_of(text: str) -> tuple[str, ...]:
    return tuple(t.lower().replace("’", "'") for t in TOKEN_RE.findall(text))


# --------------------------------------------------------------------------- WordNet


def read_wordnet(wn_dir: Path, sister_max: int = 0):
    """Return (syn, loose, antonyms) lemma relations from the WordNet 3.0 data files.

    syn/loose: sets of (pos, lemma_a, lemma_b) with a != b, both orders present.
    antonyms: set of frozenset({lemma_a, lemma_b}) over all POS and senses, plus the
    antonyms of adjective similar-to satellites.
    """
    synsets: dict[tuple[str, int], tuple[str, list[str], list[tuple]]] = {}
    for fpos, fname in (("n", "noun"), ("v", "verb"), ("a", "adj"), ("r", "adv")):
        with open(wn_dir / f"data.{fname}", encoding="latin-1") as f:
            for line in f:
                if line.startswith("  "):
                    continue
                head = line.split(" | ", 1)[0].split()
                offset, ss_type = int(head[0]), head[2]
                wcnt = int(head[3], 16)
                words = []
                for k in range(wcnt):
                    w = head[4 + 2 * k]
                    w = re.sub(r"\((a|p|ip)\)$", "", w).replace("_", " ").lower()
                    words.append(w)
                p = 4 + 2 * wcnt
                pcnt = int(head[p])
                ptrs = []
                for k in range(pcnt):
                    sym, off, pos, st = head[p + 1 + 4 * k: p + 5 + 4 * k]
                    pos = "a" if pos == "s" else pos
                    ptrs.append((sym, (pos, int(off)), int(st[:2], 16), int(st[2:], 16)))
                synsets[(fpos, offset)] = (ss_type, words, ptrs)
    syn: set[tuple[str, str, str]] = set()
    loose: set[tuple[str, str, str]] = set()
    antonyms: set[frozenset[str]] = set()
    head_antonyms: list[tuple[tuple[str, int], tuple[str, int]]] = []
    for key, (_ss_type, words, ptrs) in synsets.items():
        pos = key[0]
        for a in words:
            for b in words:
                if a != b:
                    syn.add((pos, a, b))
        for sym, tkey, src, tgt in ptrs:
            target = synsets.get(tkey)
            if target is None:
                continue
            twords = target[1]
            if sym == "!":
                if src and tgt:
                    antonyms.add(frozenset((words[src - 1], twords[tgt - 1])))
                head_antonyms.append((key, tkey))
                continue
            if sym not in LOOSE_POINTERS or tkey[0] != pos:
                continue
            srcs = [words[src - 1]] if src else words
            tgts = [twords[tgt - 1]] if tgt else twords
            for a in srcs:
                for b in tgts:
                    if a != b:
                        loose.add((pos, a, b))
                        loose.add((pos, b, a))
    # sister terms: words of synsets sharing a direct hypernym (small families only)
    if sister_max:
        hyponyms: dict[tuple[str, int], list[tuple[str, int]]] = defaultdict(list)
        for key, (_t, _w, ptrs) in synsets.items():
            for sym, tkey, _s, _t2 in ptrs:
                if sym == "@" and tkey in synsets:
                    hyponyms[tkey].append(key)
        for kids in hyponyms.values():
            if len(kids) > sister_max:
                continue
            for k1 in kids:
                for k2 in kids:
                    if k1 != k2:
                        for a in synsets[k1][1]:
                            for b in synsets[k2][1]:
                                if a != b:
                                    loose.add((k1[0], a, b))
    # antonyms of similar-to satellites: head ! head, expanded to both clusters
    def cluster(key):
        ws = set(synsets[key][1])
        if key[0] == "a":
            for sym, tkey, _s, _t in synsets[key][2]:
                if sym == "&" and tkey in synsets:
                    ws.update(synsets[tkey][1])
        return ws
    for k1, k2 in head_antonyms:
        if k1[0] != "a":
            continue
        c1, c2 = cluster(k1), cluster(k2)
        if len(c1) * len(c2) > 4000:
            c1, c2 = set(synsets[k1][1]), set(synsets[k2][1])
        for a in c1:
            for b in c2:
                if a != b:
                    antonyms.add(frozenset((a, b)))
    log(f"wordnet: {len(synsets)} synsets, {len(syn)} syn, {len(loose)} loose, "
        f"{len(antonyms)} antonym pairs")
    return syn, loose, antonyms


def read_mythes(path: Path):
    """Return (pairs, antonyms): (pos, a, b) both orders, and antonym frozensets."""
    pmap = {"(noun)": "n", "(verb)": "v", "(adj)": "a", "(adv)": "r"}
    pairs: set[tuple[str, str, str]] = set()
    antonyms: set[frozenset[str]] = set()
    with open(path, encoding="utf-8", errors="replace") as f:
        f.readline()
        head = None
        remaining = 0
        for line in f:
            line = line.rstrip("\n")
            if remaining == 0:
                head, n = line.rsplit("|", 1)
                head = head.lower()
                remaining = int(n)
                continue
            remaining -= 1
            parts = line.split("|")
            pos = pmap.get(parts[0])
            if pos is None:
                continue
            for p in parts[1:]:
                m = re.match(r"^(.*?)\s*(\((generic|similar|related) term\)|\(antonym\))?$", p)
                term = m.group(1).lower().strip()
                if not term or term == head:
                    continue
                if m.group(2) == "(antonym)":
                    antonyms.add(frozenset((head, term)))
                    continue
                pairs.add((pos, head, term))
                pairs.add((pos, term, head))
    log(f"mythes: {len(pairs)} pairs, {len(antonyms)} antonym pairs")
    return pairs, antonyms


# --------------------------------------------------------------------------- inflection

_infl_cache: dict[tuple[str, str], tuple[str, ...]] = {}


def inflect(lemma: str, pos: str, tag: str) -> tuple[str, ...]:
    """Surface forms of a (possibly multiword) lemma for a Penn tag, as token strings."""
    key = (lemma, tag)
    hit = _infl_cache.get(key)
    if hit is not None:
        return hit
    toks = tokens_of(lemma)
    out: tuple[str, ...] = ()
    if 1 <= len(toks) <= 4:
        if tag in ("NN", "VB", "JJ", "RB"):
            out = (" ".join(toks),)
        elif len(toks) == 1 or pos in ("n", "v"):
            h = len(toks) - 1 if pos == "n" else 0
            forms = getInflection(toks[h], tag, inflect_oov=True) or ()
            # ("courts", "court") for NNS: keep the forms that differ from the base
            forms = tuple(f for f in forms if f != toks[h]) or forms[:1]
            out = tuple(dict.fromkeys(
                " ".join(toks[:h] + (f.lower(),) + toks[h + 1:]) for f in forms))
    _infl_cache[key] = out
    return out


_lemma_cache: dict[str, frozenset[str]] = {}


def lemmas_of(w: str) -> frozenset[str]:
    hit = _lemma_cache.get(w)
    if hit is None:
        ls = {w}
        if " " not in w:
            for v in getAllLemmas(w).values():
                ls.update(x.lower() for x in v)
        hit = _lemma_cache[w] = frozenset(ls)
    return hit


def pos_of(w: str) -> set[str]:
    return {UPOS[u] for u in getAllLemmas(w) if u in UPOS}


# --------------------------------------------------------------------------- builder


class Builder:
    def __init__(self, freq_words: list[str], n_observed: int):
        self.rank = {w: i for i, w in enumerate(freq_words)}
        self.freq_words = freq_words
        self.n_observed = n_observed
        self.pairs: dict[tuple[str, str], int] = defaultdict(int)

    def known(self, s: str) -> bool:
        rank = self.rank
        return all(t in rank for t in s.split(" "))

    def obs_ok(self, s: str) -> bool:
        """Observed forms: any word (spinners pick rare words); phrases of corpus words."""
        if " " in s:
            return self.known(s)
        return s in self.rank or s.replace("-", "").replace("'", "").isalpha()

    def add_lexical(self, rel, flag: int, antonyms) -> None:
        n0 = len(self.pairs)
        for pos, a, b in rel:
            if " " not in a and a in STOP or " " not in b and b in STOP:
                continue
            for tag in POS_TAGS[pos]:
                fa = inflect(a, pos, tag)
                if not fa:
                    continue
                fb = inflect(b, pos, tag)
                for x in fa:
                    if not self.obs_ok(x):
                        continue
                    for y in fb:
                        if x == y or not self.known(y):
                            continue
                        f = flag | (FLAG_PHRASE if (" " in x or " " in y) else 0)
                        self.pairs[(x, y)] |= f
        log(f"flag {flag}: {len(self.pairs) - n0} new pairs, {len(self.pairs)} total")

    def add_raw(self, obs: str, orig: str, flag: int) -> None:
        if obs != orig:
            self.pairs[(obs, orig)] |= flag


def number_pairs() -> list[tuple[str, str]]:
    out = []
    words = {i: w for i, w in enumerate(NUMBERS)}
    words.update(TENS)
    for t in [20, *TENS]:
        tw = words[t]
        for u in range(1, 10):
            words[t + u] = f"{tw}-{NUMBERS[u]}"
    for n, w in words.items():
        out.append((w, str(n)))
        out.append((str(n), w))
    for w, n in (("hundred", "100"), ("thousand", "1,000"), ("million", "1,000,000")):
        for p in (f"one {w}", f"a {w}"):
            out.append((p, n))
            out.append((n, p))
    for i, w in enumerate(ORDINALS, 1):
        suf = {1: "st", 2: "nd", 3: "rd"}.get(i, "th")
        out.append((w, f"{i} {suf}"))
        out.append((f"{i} {suf}", w))
    out.append(("1,000", "1000"))
    out.append(("1000", "1,000"))
    return out


def read_phrases(path: Path) -> list[tuple[str, str]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        obs, orig = line.split("\t")
        obs, orig = " ".join(tokens_of(obs)), " ".join(tokens_of(orig))
        if not (1 <= len(obs.split()) <= 4 and 1 <= len(orig.split()) <= 4):
            raise ValueError(f"phrase too long: {line!r}")
        out.append((obs, orig))
    return out


def is_contrast(x: str, y: str, antonyms: set[frozenset[str]]) -> bool:
    lx, ly = lemmas_of(x), lemmas_of(y)
    for a in lx:
        for b in ly:
            if frozenset((a, b)) in antonyms:
                return True
    return False


def vector_neighbours(kv, freq_words, n_vec, n_query, topn=10):
    """(w, o) -> cos where o is in w's top-10 or w in o's top-10 skip-gram neighbours.

    Neighbours are searched among the ``n_vec`` most frequent words of the same part of
    speech (lemminflect readings), for the ``n_query`` most frequent words (the vectors of
    rarer words are too noisy: their top neighbours are unrelated rare words).
    """
    words = [w for w in freq_words[:n_query] if w.replace("-", "").isalpha() and w not in STOP]
    poss = {w: pos_of(w) for w in words}
    out: dict[tuple[str, str], float] = {}
    vecs = kv.get_normed_vectors()
    for p in "nvar":
        queries = [w for w in words if p in poss[w]]
        keys = queries[:n_vec]
        if not keys:
            continue
        K = vecs[[kv.key_to_index[w] for w in keys]]
        kidx = {w: i for i, w in enumerate(keys)}
        Q = vecs[[kv.key_to_index[w] for w in queries]]
        for s in range(0, len(queries), 2048):
            sims = Q[s:s + 2048] @ K.T
            for r in range(sims.shape[0]):
                w = queries[s + r]
                if w in kidx:
                    sims[r, kidx[w]] = -2.0
            top = np.argpartition(-sims, topn, axis=1)[:, :topn]
            for r in range(sims.shape[0]):
                w = queries[s + r]
                for c in top[r]:
                    o = keys[c]
                    cs = float(sims[r, c])
                    out[(w, o)] = cs
                    if w in kidx:
                        out[(o, w)] = cs
        log(f"vectors pos {p}: {len(keys)} keys, {len(queries)} queries, {len(out)} pairs")
    return out


def coverage(n_docs: int, rate: float, split: str, data_dir: Path) -> None:
    """Print candidate coverage of the benchmark spinners' swaps (see module docstring)."""
    sys.path.insert(0, str(ROOT))
    from bench.data import load_clean_docs, make_spun
    from bench.spinners import AiksaurusSpinner, WordNetSpinner
    from unspin.candidates import CandidateSource
    from unspin.tokens import tokenize

    src = CandidateSource(data_dir=data_dir)
    levels = [("WN_SYN", FLAG_WN_SYN), ("+WN_LOOSE+MYTHES", LEXICAL),
              ("+VECTOR", LEXICAL | FLAG_VECTOR), ("+PHRASE+NUMBER (all)", 0xFF)]
    docs = load_clean_docs(n_docs, split=split)
    for spinner in (WordNetSpinner(), AiksaurusSpinner()):
        spun = make_spun(spinner, docs, rate)
        single = Counter()
        multi = Counter()
        n_single = n_multi = 0
        in_obs_vocab = 0
        misses: Counter[tuple[str, str]] = Counter()
        for sd in spun:
            toks = tokenize(sd.spun)
            norms = [t.norm for t in toks]
            starts = {t.start: i for i, t in enumerate(toks)}
            cands = src.for_tokens(norms)
            for sw in sd.swaps:
                i = starts.get(sw.spun_start)
                if i is None:
                    continue
                obs = tuple(t.norm for t in tokenize(sw.spun_text))
                orig = tuple(t.norm for t in tokenize(sw.orig_text))
                found = [c.flags for c in cands[i]
                         if c.length == len(obs) and c.original == orig]
                f = found[0] if found else 0
                if len(obs) == 1 and len(orig) == 1:
                    n_single += 1
                    in_obs_vocab += bool(src.specs(obs[0]))
                    for name, mask in levels:
                        single[name] += bool(f & mask)
                    if not f:
                        misses[(obs[0], orig[0])] += 1
                else:
                    n_multi += 1
                    multi["all"] += bool(f)
        print(f"\n{spinner.name}: {len(spun)} docs at rate {rate}; {n_single} single-word "
              f"swaps ({in_obs_vocab / max(1, n_single):.1%} of spun words have candidates), "
              f"{n_multi} phrase/multiword swaps")
        for name, _mask in levels:
            print(f"  single-word coverage {name:22s} {single[name] / max(1, n_single):6.1%}")
        print(f"  phrase/multiword swaps covered        {multi['all'] / max(1, n_multi):6.1%}")
        top = misses.most_common(25)
        print("  frequent misses (spun->orig):", ", ".join(f"{o}->{w}" for (o, w), _ in top))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wordnet", default="/usr/share/wordnet", type=Path)
    ap.add_argument("--mythes", default="/usr/share/mythes/th_en_US_v2.dat", type=Path)
    ap.add_argument("--kv", default=ROOT / "build/w2v.kv", type=Path)
    ap.add_argument("--corpus", default=ROOT / "build/corpus/train.txt", type=Path)
    ap.add_argument("--out", default=ROOT / "src/unspin/data", type=Path)
    ap.add_argument("--phrases", default=ROOT / "src/unspin/data/phrases.tsv", type=Path)
    ap.add_argument("--observed", type=int, default=60000)
    ap.add_argument("--sister-max", type=int, default=0,
                    help="add WordNet sister terms (co-hyponyms) as WN_LOOSE for hypernyms "
                         "with at most this many hyponym synsets (0: off)")
    ap.add_argument("--vector-vocab", type=int, default=30000)
    ap.add_argument("--cap", type=int, default=50)
    ap.add_argument("--rare-cap", type=int, default=30)
    ap.add_argument("--vector-slots", type=int, default=10,
                    help="slots per word kept free of strict lexical candidates")
    ap.add_argument("--max-corpus-mb", type=int, default=60,
                    help="without --kv: count frequencies on this many MB of corpus")
    ap.add_argument("--coverage", type=int, default=0, metavar="N_DOCS",
                    help="only report coverage on N_DOCS spun held-out documents")
    ap.add_argument("--rate", type=float, default=0.3)
    ap.add_argument("--split", default="calib")
    args = ap.parse_args()
    if args.coverage:
        coverage(args.coverage, args.rate, args.split, args.out)
        return
    t0 = time.time()

    kv = None
    if args.kv.exists():
        from gensim.models import KeyedVectors
        kv = KeyedVectors.load(str(args.kv))
        freq_words = list(kv.index_to_key)
        log(f"vectors: {len(freq_words)} words, dim {kv.vector_size}")
    else:
        log(f"no vectors at {args.kv}: counting frequencies from {args.corpus}")
        cnt: Counter[str] = Counter()
        with open(args.corpus, encoding="utf-8") as f:
            lines = f.readlines(args.max_corpus_mb << 20)
        for line in lines:
            cnt.update(line.split())
        freq_words = [w for w, c in cnt.most_common() if c >= 5]
    freq_words = [w for w in freq_words if any(ch.isalnum() for ch in w)]

    syn, loose, wn_ant = read_wordnet(args.wordnet, args.sister_max)
    my_pairs, my_ant = read_mythes(args.mythes)
    antonyms = wn_ant | my_ant
    for line in CONTRAST_PAIRS:
        ws = line.split()
        if len(ws) == 2:
            antonyms.add(frozenset(ws))
    for g in CONTRAST_GROUPS:
        ws = g.split()
        for a in ws:
            for b in ws:
                if a != b:
                    antonyms.add(frozenset((a, b)))

    b = Builder(freq_words, args.observed)
    b.add_lexical(syn, FLAG_WN_SYN, antonyms)
    b.add_lexical(loose, FLAG_WN_LOOSE, antonyms)
    b.add_lexical(my_pairs, FLAG_MYTHES, antonyms)

    cos: dict[tuple[str, str], float] = {}
    if kv is not None:
        vn = vector_neighbours(kv, freq_words, args.vector_vocab, args.observed)
        for (w, o), c in vn.items():
            b.pairs[(w, o)] |= FLAG_VECTOR
            cos[(w, o)] = c

    # antonym / contrast filter on lemmas, all sources so far
    n0 = len(b.pairs)
    for key in [k for k in b.pairs if is_contrast(k[0], k[1], antonyms)]:
        del b.pairs[key]
    # same lemma (inflectional variants)
    for key in [k for k in b.pairs if " " not in k[0] and " " not in k[1]
                and lemmas_of(k[0]) & lemmas_of(k[1])]:
        del b.pairs[key]
    log(f"filters removed {n0 - len(b.pairs)} pairs")

    # hand-written phrases and numbers: exempt from the filters above
    phrases = read_phrases(args.phrases)
    for obs, orig in phrases:
        b.add_raw(obs, orig, FLAG_PHRASE)
    for obs, orig in number_pairs():
        b.add_raw(obs, orig, FLAG_NUMBER | (FLAG_PHRASE if " " in obs + orig else 0))
    special = {k for k, f in b.pairs.items() if f & (FLAG_PHRASE | FLAG_NUMBER)
               and not f & (LEXICAL | FLAG_VECTOR)}

    # cosine for every single-word pair with vectors
    if kv is not None:
        vecs = kv.get_normed_vectors()
        k2i = kv.key_to_index
        todo = [k for k in b.pairs if k not in cos and k[0] in k2i and k[1] in k2i]
        if todo:
            ia = np.fromiter((k2i[k[0]] for k in todo), dtype=np.int64, count=len(todo))
            ib = np.fromiter((k2i[k[1]] for k in todo), dtype=np.int64, count=len(todo))
            cs = np.empty(len(todo), dtype=np.float32)
            for s in range(0, len(todo), 500000):
                cs[s:s + 500000] = np.einsum(
                    "ij,ij->i", vecs[ia[s:s + 500000]], vecs[ib[s:s + 500000]])
            cos.update(zip(todo, cs.tolist(), strict=True))

    # group by observed; observed = the most frequent words with candidates + phrases
    by_obs: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for (x, y), f in b.pairs.items():
        by_obs[x].append((y, f))
    rank = b.rank
    singles = sorted((x for x in by_obs if " " not in x and x in rank), key=rank.__getitem__)
    frequent = set(singles[: args.observed]) | {k[0] for k in special}

    def score(x: str, y: str, f: int) -> float:
        return (cos.get((x, y), 0.0) + 0.25 * bool(f & FLAG_WN_SYN) + 0.2 * bool(f & FLAG_MYTHES)
                + 0.1 * bool(f & FLAG_WN_LOOSE) + 0.1 * bool(f & FLAG_VECTOR)
                + 0.2 * bool(f & FLAG_PHRASE and f & LEXICAL))

    # Per observed word: hand-written entries first, then strict lexical ones (WordNet
    # synset, MyThes) by score leaving --vector-slots free, then the rest (loose
    # relations and vector neighbours) by score, up to the cap. Frequent observed words
    # (and hand-written entries) get --cap, rarer words and collocations --rare-cap.
    table: dict[str, list[tuple[str, int]]] = {}
    for x, items in by_obs.items():
        cap = args.cap if x in frequent else args.rare_cap
        reserve = min(args.vector_slots, cap // 3)
        ranked = sorted(items, key=lambda it, x=x: (-score(x, it[0], it[1]),
                                                     rank.get(it[0], 1 << 30)))
        hand = [it for it in ranked if it[1] & (FLAG_PHRASE | FLAG_NUMBER)
                and not it[1] & (LEXICAL | FLAG_VECTOR)]
        strict = [it for it in ranked if it[1] & (FLAG_WN_SYN | FLAG_MYTHES)]
        chosen = hand + strict[: max(0, cap - reserve - len(hand))]
        taken = {y for y, _f in chosen}
        chosen += [it for it in ranked if it[0] not in taken][: cap - len(chosen)]
        if chosen:
            table[x] = chosen
    n_pairs = sum(len(v) for v in table.values())
    log(f"table: {len(table)} observed, {n_pairs} pairs")

    # words list: vector vocabulary first, then everything else used
    vec_words: list[str] = []
    if kv is not None:
        vec_words = freq_words[: args.vector_vocab]
    index: dict[str, int] = {w: i for i, w in enumerate(vec_words)}
    words = list(vec_words)

    def idx(s: str) -> int:
        i = index.get(s)
        if i is None:
            i = index[s] = len(words)
            words.append(s)
        return i

    for x in sorted(table, key=lambda s: (rank.get(s, 1 << 30), s)):
        idx(x)
        for y, _f in table[x]:
            idx(y)
    n = len(words)
    counts = np.zeros(n, dtype=np.int64)
    for x, items in table.items():
        counts[index[x]] = len(items)
    offsets = np.zeros(n + 1, dtype=np.uint32)
    np.cumsum(counts, out=offsets[1:])
    orig = np.zeros(n_pairs, dtype=np.uint32)
    flags = np.zeros(n_pairs, dtype=np.uint8)
    cosa = np.zeros(n_pairs, dtype=np.float16)
    fan = np.zeros(n, dtype=np.int64)
    for x, items in table.items():
        o = int(offsets[index[x]])
        for j, (y, f) in enumerate(items):
            yi = index[y]
            orig[o + j] = yi
            flags[o + j] = f
            cosa[o + j] = cos.get((x, y), 0.0)
            fan[yi] += 1
    fanout = np.minimum(fan, 65535).astype(np.uint16)

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "cand_words.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
    np.save(out / "cand_offsets.npy", offsets)
    np.save(out / "cand_orig.npy", orig)
    np.save(out / "cand_flags.npy", flags)
    np.save(out / "cand_cos.npy", cosa)
    np.save(out / "cand_fanout.npy", fanout)
    if kv is not None:
        rows = [kv.key_to_index[w] for w in vec_words]
        vecs = kv.get_normed_vectors()[rows].astype(np.float16)
        np.save(out / "vectors.npy", vecs)
    elif (out / "vectors.npy").exists():
        os.remove(out / "vectors.npy")
    total = 0
    for name in OUTPUTS:
        p = out / name
        if p.exists():
            sz = p.stat().st_size
            total += sz
            print(f"{sz / 1e6:9.2f} MB  {p}")
    print(f"{total / 1e6:9.2f} MB  total; built in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
