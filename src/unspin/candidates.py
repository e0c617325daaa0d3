"""Candidate originals for observed (possibly spun) tokens.

A spinner replaced original words and phrases with "synonyms" from a fixed table. For
each observed position this module *proposes* the originals that could have been there;
the language model and decoder decide. Proposals come from a shipped reverse table
(built by ``scripts/build_tables.py`` from WordNet, MyThes, skip-gram neighbours, a
hand-written phrase table and number words) and, optionally, a learned table of pairs
seen in traced spun text.

Everything is loaded from ``unspin/data`` as memory-mapped numpy arrays; the run-time
needs neither WordNet nor gensim.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.resources import files
from itertools import repeat
from pathlib import Path

import numpy as np

FLAG_WN_SYN, FLAG_WN_LOOSE, FLAG_MYTHES, FLAG_VECTOR, FLAG_PHRASE, FLAG_NUMBER, FLAG_LEARNED = (
    1, 2, 4, 8, 16, 32, 64)
# A pair of the shipped term table (`data/terms.tsv`): a multiword term as spinners are
# known to write it ("tortured phrases": "profound learning" for "deep learning").
FLAG_TERM = 128
# An original two steps away in the word table (a candidate of a candidate) that the context
# model ranks first for the slot: a spinner's table is wider than any thesaurus, and its
# loose synonyms often sit one step beyond ours. Decoder-made, never in a table.
FLAG_TWO_STEP = 256

MAX_PHRASE = 4


@dataclass(frozen=True, slots=True)
class Candidate:
    """One proposed original for observed tokens ``[start, start + length)``.

    Attributes:
        start: Index of the first observed token it replaces.
        length: Number of observed tokens replaced (1..4).
        original: Normalised tokens of the proposed original (1..4).
        flags: Bit set of FLAG_* sources that propose the pair.
        cosine: Vector cosine observed~original (single words; 0.0 when unknown).
        fanout: How many distinct alternatives the original has in the table (>= 1).
        count: Learned-table count (0 when not learned).
    """

    start: int
    length: int
    original: tuple[str, ...]
    flags: int
    cosine: float
    fanout: int
    count: int = 0


def _key(tokens: Iterable[str]) -> tuple[str, ...]:
    return tuple(t.lower().replace("’", "'") for t in tokens)


# Fast construction of many Candidates: the frozen dataclass __init__ goes through
# object.__setattr__ per field; writing the slots through their descriptors is about
# twice as fast and yields identical objects.
_new = object.__new__
_SET = tuple(getattr(Candidate, f).__set__
             for f in ("start", "length", "original", "flags", "cosine", "fanout", "count"))


def _make(start: int, specs: tuple) -> tuple[Candidate, ...]:
    s0, s1, s2, s3, s4, s5, s6 = _SET
    out = []
    for ln, o, f, c, fn, cnt in specs:
        x = _new(Candidate)
        s0(x, start)
        s1(x, ln)
        s2(x, o)
        s3(x, f)
        s4(x, c)
        s5(x, fn)
        s6(x, cnt)
        out.append(x)
    return tuple(out)


def _tsv_rows(path: str | Path) -> Iterator[tuple[int, list[str]]]:
    """``(line number, tab-separated fields)`` of a table file's lines, blank lines and
    ``#`` comments skipped."""
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.strip() and not line.startswith("#"):
                yield n, line.split("\t")


class LearnedTable:
    """Counts of (observed, original) token-tuple pairs, e.g. learned by tracing.

    File format: TSV ``observed<TAB>original<TAB>count``; tokens normalised and
    space-separated; lines starting with ``#`` are comments.
    """

    def __init__(self) -> None:
        self._counts: dict[tuple[tuple[str, ...], tuple[str, ...]], int] = {}

    @classmethod
    def load(cls, path: str | Path) -> LearnedTable:
        table = cls()
        for n, parts in _tsv_rows(path):
            if len(parts) not in (2, 3):
                raise ValueError(f"{path}:{n}: expected observed<TAB>original<TAB>count")
            count = int(parts[2]) if len(parts) == 3 else 1
            table.add(tuple(parts[0].split()), tuple(parts[1].split()), count)
        return table

    def save(self, path: str | Path) -> None:
        with open(path, "w", encoding="utf-8") as f:
            f.write("# unspin learned table: observed<TAB>original<TAB>count\n")
            for (obs, orig), c in sorted(self._counts.items(), key=lambda kv: (-kv[1], kv[0])):
                f.write(f"{' '.join(obs)}\t{' '.join(orig)}\t{c}\n")

    def add(self, observed: tuple[str, ...], original: tuple[str, ...], count: int = 1) -> None:
        obs, orig = _key(observed), _key(original)
        if not obs or not orig or obs == orig:
            return
        if len(obs) > MAX_PHRASE or len(orig) > MAX_PHRASE:
            return
        self._counts[(obs, orig)] = self._counts.get((obs, orig), 0) + count

    def items(self) -> Iterator[tuple[tuple[str, ...], tuple[str, ...], int]]:
        for (obs, orig), c in self._counts.items():
            yield obs, orig, c

    def __len__(self) -> int:
        return len(self._counts)

    def __contains__(self, pair: object) -> bool:
        return pair in self._counts


def load_terms(path: str | Path) -> dict[str, dict[tuple[str, ...], int]]:
    """Read a term table: ``observed<TAB>original`` per line, ``#`` comments.

    Observed keys have 2 to `MAX_PHRASE` tokens (single words go through the id-indexed
    word table, which a run-time file cannot extend); originals 1 to `MAX_PHRASE`. Tokens
    are normalised (lower case, straight apostrophes) and space-separated.

    Returns:
        Observed key (space-joined) -> {original tokens: 0}, in file order.

    Raises:
        ValueError: on a malformed line, with its file and line number.
    """
    terms: dict[str, dict[tuple[str, ...], int]] = {}
    for n, parts in _tsv_rows(path):
        obs = _key(parts[0].split()) if len(parts) == 2 else ()
        orig = _key(parts[1].split()) if len(parts) == 2 else ()
        if not (2 <= len(obs) <= MAX_PHRASE and 1 <= len(orig) <= MAX_PHRASE) or obs == orig:
            raise ValueError(f"{path}:{n}: expected observed (2-{MAX_PHRASE} tokens)"
                             f"<TAB>original (1-{MAX_PHRASE} tokens), different")
        terms.setdefault(" ".join(obs), {})[orig] = 0
    return terms


# A per-word spec is (length, original, flags, cosine, fanout, count): everything of a
# Candidate but its start.
_Spec = tuple[int, tuple[str, ...], int, float, int, int]


def _longest_phrases(keys: list[str]) -> dict[str, int]:
    """First word -> number of words of the longest phrase key (at most `MAX_PHRASE`)
    starting with it.

    The steps that touch every key are simple comprehensions or run at C speed (a Python
    loop over the phrases, a third of the keys, was a tenth of the start-up): the phrases
    in order of length, so that in the dictionary built from them the longest comes last
    and stays.
    """
    # (A comprehension's ``in``: three times faster than mapping ``str.__contains__``,
    # which goes through a method wrapper for every key.)
    phrases = [k for k in keys if " " in k]
    if not phrases:
        return {}
    lens = np.fromiter(map(str.count, phrases, repeat(" ")), dtype=np.int64,
                       count=len(phrases)) + 1
    firsts = re.findall(r"^[^ \n]*", "\n".join(phrases), flags=re.M)
    order = np.argsort(lens, kind="stable")
    order = order[lens[order] <= MAX_PHRASE]
    return dict(zip(np.array(firsts, dtype=object)[order].tolist(), lens[order].tolist(),
                    strict=True))


class CandidateSource:
    """Proposes candidate originals for observed token sequences.

    Args:
        table: Optional learned table (a LearnedTable or a path to its TSV file); its pairs
            are added with FLAG_LEARNED and their count, merged with shipped pairs.
        data_dir: Directory with the shipped arrays (default: the package's ``data``).
        terms: The term table (`load_terms`' file or result; FLAG_TERM pairs): default the
            shipped ``terms.tsv`` of ``data_dir``; ``{}`` for none.
    """

    # cached Candidate objects, keyed by (observed key, start); bounded (~40 MB at most)
    _CACHE_LIMIT = 200_000

    def __init__(self, table: str | Path | LearnedTable | None = None,
                 data_dir: Path | None = None,
                 terms: str | Path | dict[str, dict[tuple[str, ...], int]] | None = None
                 ) -> None:
        d = Path(data_dir) if data_dir is not None else Path(str(files("unspin") / "data"))
        self.data_dir = d
        text = (d / "cand_words.txt").read_text(encoding="utf-8")
        words = text.split("\n")
        if words and words[-1] == "":
            words.pop()
        self._words = words
        self._index = dict(zip(words, range(len(words)), strict=True))
        # memory-mapped; viewed as plain ndarrays (np.memmap indexing is slow)
        def load(name: str) -> np.ndarray:
            return np.load(d / name, mmap_mode="r").view(np.ndarray)

        self._offsets = load("cand_offsets.npy")
        self._orig = load("cand_orig.npy")
        self._flags = load("cand_flags.npy")
        self._cos = load("cand_cos.npy")
        self._fanout = load("cand_fanout.npy")
        vec_path = d / "vectors.npy"
        self._vectors = load("vectors.npy") if vec_path.exists() else None
        self._n_vec = 0 if self._vectors is None else self._vectors.shape[0]
        self._plen: dict[str, int] | None = None  # see `_phrase_len`
        if terms is None:  # the shipped term table
            terms_path = d / "terms.tsv"
            terms = load_terms(terms_path) if terms_path.exists() else {}
        elif not isinstance(terms, dict):
            terms = load_terms(terms)
        self._terms: dict[str, dict[tuple[str, ...], int]] = terms
        self._learned: dict[str, dict[tuple[str, ...], int]] = {}
        if table is not None:
            learned = table if isinstance(table, LearnedTable) else LearnedTable.load(table)
            for obs, orig, c in learned.items():
                k = " ".join(obs)
                self._learned.setdefault(k, {})
                self._learned[k][orig] = self._learned[k].get(orig, 0) + c
        self._cos4: np.ndarray | None = None  # see `cosines4`
        self._fan1: np.ndarray | None = None  # see `fanouts1`
        self._specs: dict[str, tuple[_Spec, ...]] = {}
        self._cands: dict[tuple[str, int], tuple[Candidate, ...]] = {}
        self._n_cached = 0

    @property
    def _phrase_len(self) -> dict[str, int]:
        """First token -> number of tokens of the longest observed phrase (shipped, term or
        learned) starting with it. Built on first use: a document judged clean never
        looks phrases up, and building it was a tenth of the start-up."""
        if self._plen is None:
            plen = _longest_phrases(self._words)
            for key in (*self._terms, *self._learned):
                first, *rest = key.split(" ")
                if rest and plen.get(first, 0) < len(rest) + 1:
                    plen[first] = len(rest) + 1
            self._plen = plen
        return self._plen

    # ----------------------------------------------------------------- lookups

    def _has(self, key: str) -> bool:
        i = self._index.get(key)
        return i is not None and self._offsets[i + 1] > self._offsets[i]

    def is_key(self, key: str) -> bool:
        """Whether an observed word or phrase has an entry (shipped, term or learned)."""
        return key in self._index or key in self._terms or key in self._learned

    def specs(self, key: str) -> tuple[_Spec, ...]:
        """Candidates of one observed word or space-joined phrase, without positions.

        Returns tuples ``(length, original, flags, cosine, fanout, count)``; cached.
        """
        hit = self._specs.get(key)
        if hit is not None:
            return hit
        length = key.count(" ") + 1
        merged: dict[tuple[str, ...], list] = {}
        learned = self._learned.get(key)
        terms = self._terms.get(key)
        i = self._index.get(key)
        if i is not None:
            a, b = self._offsets[i:i + 2].tolist()
            if b > a:
                origs = self._orig[a:b]
                flags = self._flags[a:b].tolist()
                coss = self.cosines4()[self._cos[a:b].view(np.uint16)].tolist()
                fans = self.fanouts1()[origs].tolist()
                words = self._words
                if not learned and not terms:  # most keys: the specs straight away
                    found: dict[tuple[str, ...], tuple] = {}
                    for o, f, c, fn in zip(origs.tolist(), flags, coss, fans, strict=True):
                        w = words[o]
                        orig = (w,) if " " not in w else tuple(w.split(" "))
                        found[orig] = (length, orig, f, c, fn, 0)
                    out = tuple(found.values())
                    self._specs[key] = out
                    return out
                for o, f, c, fn in zip(origs.tolist(), flags, coss, fans, strict=True):
                    w = words[o]
                    merged[(w,) if " " not in w else tuple(w.split(" "))] = [f, c, fn, 0]
        for orig in terms or ():
            m = merged.get(orig)
            if m is None:
                merged[orig] = [FLAG_TERM, 0.0, 1, 0]
            else:
                m[0] |= FLAG_TERM
        if learned:
            for orig, cnt in learned.items():
                m = merged.get(orig)
                if m is None:
                    oi = self._index.get(" ".join(orig))
                    fan = max(1, int(self._fanout[oi])) if oi is not None else 1
                    cos = self.cosine(key, orig[0]) if length == 1 and len(orig) == 1 else 0.0
                    merged[orig] = [FLAG_LEARNED, cos, fan, cnt]
                else:
                    m[0] |= FLAG_LEARNED
                    m[3] = cnt
        out = tuple((length, o, f, c, fn, cnt) for o, (f, c, fn, cnt) in merged.items())
        self._specs[key] = out
        return out

    def cosines4(self) -> np.ndarray:
        """Per float16 bit pattern, the cosine as `specs` gives it (rounded to four places
        in float64, as ``np.round`` does): one lookup instead of numpy's rounding, which
        costs microseconds on each short slice of a word's candidates."""
        if self._cos4 is None:
            every = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
            with np.errstate(invalid="ignore", over="ignore"):
                self._cos4 = np.round(every.astype(np.float64), 4)
        return self._cos4

    def fanouts1(self) -> np.ndarray:
        """Each table row's fanout, at least 1 (as `specs` gives it)."""
        if self._fan1 is None:
            self._fan1 = np.maximum(self._fanout, 1)
        return self._fan1

    def _at(self, key: str, start: int) -> tuple[Candidate, ...]:
        ck = (key, start)
        hit = self._cands.get(ck)
        if hit is not None:
            return hit
        specs = self.specs(key)
        if not specs:
            self._cands[ck] = ()
            return ()
        cands = _make(start, specs)
        if self._n_cached > self._CACHE_LIMIT:
            self._cands.clear()
            self._n_cached = 0
        self._cands[ck] = cands
        self._n_cached += len(cands) + 1
        return cands

    def for_tokens(self, norms: list[str]) -> list[list[Candidate]]:
        """Candidates starting at each position (single words and phrases up to 4 tokens).

        Args:
            norms: Normalised tokens (``Token.norm``) of a sentence or text. Calling per
                sentence keeps the object cache effective.

        Returns:
            One list per position; identity is never included; punctuation gets ``[]``.
        """
        out: list[list[Candidate]] = []
        at = self._at
        plen = self._phrase_len
        n = len(norms)
        for i, w in enumerate(norms):
            if not w or not (w[0].isalnum() or any(ch.isalnum() for ch in w)):
                out.append([])
                continue
            cur = list(at(w, i))
            longest = plen.get(w)
            if longest:
                for ln in range(2, min(longest, n - i) + 1):
                    key = " ".join(norms[i:i + ln])
                    if self.is_key(key):
                        cur.extend(at(key, i))
            out.append(cur)
        return out

    def cosine(self, a: str, b: str) -> float:
        """Cosine of two words' vectors; 0.0 when either is outside the shipped vocabulary."""
        if self._vectors is None:
            return 0.0
        ia, ib = self._index.get(a), self._index.get(b)
        if ia is None or ib is None or ia >= self._n_vec or ib >= self._n_vec:
            return 0.0
        va = self._vectors[ia].astype(np.float32)
        vb = self._vectors[ib].astype(np.float32)
        return round(float(va @ vb), 4)

    def vector_rows(self, words: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
        """The shipped unit vectors and, per word, its row among them (-1: none).

        Rows are in order of corpus frequency, most frequent first.
        """
        rows = np.full(len(words), -1, dtype=np.int64)
        if self._vectors is None:
            return rows, None
        index, n = self._index, self._n_vec
        # (map() calls index.get from C: twice as fast as a generator expression)
        found = np.fromiter(map(index.get, words, repeat(n)), dtype=np.int64, count=len(words))
        rows[found < n] = found[found < n]
        return rows, self._vectors

    def has_vector(self, word: str) -> bool:
        i = self._index.get(word)
        return i is not None and i < self._n_vec


_default: CandidateSource | None = None
_lock = threading.Lock()


def get_source(table: str | Path | LearnedTable | None = None) -> CandidateSource:
    """The shared default CandidateSource (loaded once); a new one when a table is given."""
    global _default
    if table is not None:
        return CandidateSource(table)
    with _lock:
        if _default is None:
            _default = CandidateSource()
        return _default
