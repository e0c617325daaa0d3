"""Reference article spinners for the benchmark, with two different substitution tables.

A spinner swaps words and phrases for "synonyms" from a fixed table, sense-blind, and
records every swap with character offsets in both the original and the spun text, so the
benchmark knows exactly what was changed. Applying the swaps backwards (``spun_text`` ->
``orig_text``) to the spun text reproduces the original exactly.

* `WordNetSpinner` ("seen table"): synonyms from WordNet 3.0 (``/usr/share/wordnet``,
  Debian package ``wordnet-base``), pooled over all senses of the word. The restorer is
  built from WordNet, so this measures the seen-table case.
* `AiksaurusSpinner` ("unseen table"): synonyms from the Aiksaurus thesaurus
  (``/usr/share/aiksaurus``, Debian package ``aiksaurus``; GPL-2+). The data is read at run
  time only to drive the benchmark and is never copied into this repository.

Both also spin function words and small words into phrases and back, number words into
digits and capitalised names word by word, each with its own small hand-written table.
Inflection (via lemminflect) and capitalisation of the original are carried over. A
document keeps one synonym per word; only some occurrences are swapped, unless
``every_occurrence`` (the ``*-every`` reference variants) swaps all of a picked word's.
"""

from __future__ import annotations

import os
import random
import re
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from lemminflect import getAllInflections, getAllLemmas, getInflection

from unspin.tokens import WORD, Token, tokenize

WORDNET_DIR = Path(os.environ.get("UNSPIN_WORDNET_DIR", "/usr/share/wordnet"))
AIKSAURUS_DIR = Path(os.environ.get("UNSPIN_AIKSAURUS_DIR", "/usr/share/aiksaurus"))
MYTHES_PATH = Path(os.environ.get("UNSPIN_MYTHES", "/usr/share/mythes/th_en_US_v2.dat"))


@dataclass
class Swap:
    """One substitution, with offsets in the original and in the spun text."""

    orig_start: int
    orig_end: int
    orig_text: str
    spun_start: int
    spun_end: int
    spun_text: str


@dataclass
class SpunDoc:
    """A spun document with its original and the exact swaps that turned one into the other.

    ``n_words`` is the number of word tokens in the original.
    """

    original: str
    spun: str
    swaps: list[Swap]
    n_words: int
    id: str = ""
    rate: float = 0.0
    spinner: str = ""
    meta: dict = field(default_factory=dict)


def unspin_swaps(doc: SpunDoc) -> str:
    """Apply the swaps backwards to the spun text; returns the original if they are exact."""
    out = doc.spun
    for s in sorted(doc.swaps, key=lambda s: s.spun_start, reverse=True):
        assert out[s.spun_start : s.spun_end] == s.spun_text
        out = out[: s.spun_start] + s.orig_text + out[s.spun_end :]
    return out


# Closed-class words the thesaurus tables never touch (they only change through the
# hand-written tables): the thesauri map "a" to "angstrom", "in" to "inch", "be" to "exist".
STOP = frozenset(
    """a an the this that these those some any each every all both either neither no not nor
    i me my mine we us our ours you your yours he him his she her hers it its they them their
    theirs who whom whose which what when where why how whether if then than so as such
    of in on at to for by with from into onto upon over under about above below between among
    through during before after against without within along across behind beyond near off out
    up down around and or but yet because since while although though unless until
    be am is are was were been being have has had having do does did done doing
    will would shall should can could may might must ought one ones there here also very
    just only even still too else own same other another more most much many few less least
    s t re ve ll d m o""".split()
)

NUMBER_WORDS = {
    "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
}

# Hand-written tables: surface forms (lower case) -> replacements. The two spinners use
# different ones, as two real spinner products would.
HAND_WORDNET: dict[str, list[str]] = {
    "because": ["as a result of", "due to the fact that"],
    "but": ["however"],
    "while": ["whereas"],
    "also": ["moreover", "additionally"],
    "since": ["for the reason that"],
    "however": ["nonetheless"],
    "although": ["even though"],
    "many": ["numerous"],
    "several": ["a number of"],
    "about": ["approximately"],
    "often": ["regularly"],
    "later": ["afterward"],
    "still": ["nonetheless"],
    "people": ["individuals"],
    "women": ["females"],
    "woman": ["female"],
    "men": ["males"],
    "children": ["youngsters"],
    "in order to": ["so as to"],
    "as well as": ["along with"],
    "a lot of": ["a great deal of"],
    "due to": ["because of"],
    "more than": ["greater than"],
    "for example": ["as an example"],
    "at least": ["not less than"],
    "so that": ["in order that"],
    **NUMBER_WORDS,
}

HAND_AIKSAURUS: dict[str, list[str]] = {
    "because": ["owing to the fact that", "on account of"],
    "but": ["yet", "nevertheless"],
    "while": ["even as"],
    "also": ["likewise", "in addition"],
    "since": ["considering that"],
    "however": ["then again"],
    "therefore": ["consequently"],
    "although": ["albeit"],
    "many": ["lots of"],
    "about": ["concerning"],
    "before": ["prior to"],
    "after": ["following"],
    "people": ["folks"],
    "women": ["ladies"],
    "men": ["guys"],
    "children": ["kids"],
    "in order to": ["to"],
    "as well as": ["and also"],
    "due to the fact that": ["because"],
    "in addition": ["also"],
    "for example": ["for instance"],
    "at the same time": ["simultaneously"],
    "a number of": ["several"],
    "such as": ["like"],
    "twenty": ["20"],
    **NUMBER_WORDS,
}

UPOS_TAG = {"NOUN": "NN", "VERB": "VB", "ADJ": "JJ", "ADV": "RB"}
SKIP_TAGS = frozenset({"JJR", "JJS", "RBR", "RBS"})
_CAND_RE = re.compile(r"^[a-z]+(?:[- ][a-z]+){0,2}$")
_ARTICLE_VOWELS = "aeiou"


def _as_list(entry: str | list[str]) -> list[str]:
    """Hand-table values are one replacement or a list of them."""
    return [entry] if isinstance(entry, str) else list(entry)


def _stable(*parts: object) -> int:
    return zlib.crc32("\x1f".join(map(str, parts)).encode("utf-8"))


def match_case(src: str, repl: str) -> str:
    """Carry the capitalisation of ``src`` over to ``repl``."""
    if len(src) > 1 and src.isupper():
        return repl.upper()
    if src[:1].isupper():
        return repl[:1].upper() + repl[1:]
    return repl


def analyses(word: str) -> list[tuple[str, str, str]]:
    """``(upos, lemma, penn_tag)`` readings of a lower-case word form, via lemminflect."""
    out: list[tuple[str, str, str]] = []
    for upos, lemmas in getAllLemmas(word).items():
        if upos not in UPOS_TAG:
            continue
        for lemma in lemmas:
            if word == lemma:
                tags = [UPOS_TAG[upos]]
            else:
                infl = getAllInflections(lemma, upos=upos)
                tags = [t for t, forms in infl.items() if forms[0] == word]
                tags = tags or [t for t, forms in infl.items() if word in forms]
            if tags:
                out.append((upos, lemma, tags[0]))
    return out


def inflect(phrase: str, tag: str) -> str | None:
    """Inflect a base-form (possibly multiword) candidate to a Penn tag; None if unsafe."""
    if tag in SKIP_TAGS:
        return None
    words = phrase.split(" ")
    if tag.startswith("VB") and tag not in ("VB", "VBP"):
        idx = 0
    elif tag in ("NNS", "NNPS"):
        idx = len(words) - 1
        last = words[idx]
        if len(words) > 1 and last not in getAllLemmas(last).get("NOUN", (last,)):
            return phrase  # "two bits": already plural
    else:
        return phrase
    upos = "VERB" if tag.startswith("VB") else "NOUN"
    if not getAllInflections(words[idx], upos=upos):
        return None  # not known as that part of speech: "stability" won't become "stabilitied"
    forms = getInflection(words[idx], tag=tag)
    if not forms:
        return None
    words[idx] = forms[0]
    return " ".join(words)


class Spinner:
    """Base class: a table-driven, sense-blind spinner.

    Subclasses provide `base_candidates` (thesaurus synonyms of a lemma, in base form),
    `surface_candidates` (synonyms of an exact word form, uninflected) and `is_phrase`.
    """

    name = "spinner"
    hand: dict[str, list[str]] = {}
    max_phrase = 4
    per_entry = 3  # candidates kept per table entry
    # Swap every occurrence of a word (or phrase) once it is picked, as a spinner that
    # rewrites all of its table's words would, instead of picking occurrences one by one.
    every_occurrence = False

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], list[str]] = {}

    # -- table interface -------------------------------------------------------------
    def base_candidates(self, lemma: str, upos: str) -> list[str]:
        raise NotImplementedError

    def surface_candidates(self, form: str) -> list[str]:
        return []

    def is_phrase(self, key: str) -> bool:
        return False

    # -- lookups ---------------------------------------------------------------------
    def _ok_phrase(self, norms: list[str]) -> bool:
        key = " ".join(norms)
        return key in self.hand or not all(w in STOP for w in norms)

    def _ok(self, cand: str, src: str) -> bool:
        return (
            cand != src
            and bool(_CAND_RE.match(cand))
            and src not in cand.split(" ")
            and not (cand in STOP and cand not in self.hand)
        )

    def word_candidates(self, form: str) -> list[str]:
        """Replacements for one lower-case word form, inflected like it."""
        key = ("w", form)
        if key in self._cache:
            return self._cache[key]
        if form in self.hand:
            out = _as_list(self.hand[form])
        elif form in STOP or len(form) < 2:
            out = []
        else:
            pools: list[list[str]] = []
            for upos, lemma, tag in analyses(form):
                pool = []
                for cand in self.base_candidates(lemma, upos):
                    infl = inflect(cand, tag)
                    if infl and self._ok(infl, form) and lemma not in cand.split(" "):
                        pool.append(infl)
                pools.append(pool)
            out = _round_robin(pools, self.per_entry)
            if not out:
                out = [c for c in self.surface_candidates(form) if self._ok(c, form)]
                out = out[: self.per_entry]
        self._cache[key] = out
        return out

    def phrase_candidates(self, norms: list[str]) -> list[str]:
        """Replacements for a multiword phrase (lower-case words), or [] if no entry."""
        key = " ".join(norms)
        ck = ("p", key)
        if ck in self._cache:
            return self._cache[ck]
        out: list[str] = []
        if not self._ok_phrase(norms):
            pass
        elif key in self.hand:
            out = _as_list(self.hand[key])
        elif self.is_phrase(key):
            out = [c for c in self.surface_candidates(key) if self._ok(c, key)]
        else:
            # An inflected verb at the head: "gave up" -> "give up" -> "surrender" -> "surrendered".
            rest = " ".join(norms[1:])
            for upos, lemma, tag in analyses(norms[0]):
                if upos != "VERB" or lemma == norms[0]:
                    continue
                base = f"{lemma} {rest}"
                if base in self.hand or self.is_phrase(base):
                    cands = _as_list(self.hand.get(base) or []) or self.surface_candidates(base)
                    for c in cands:
                        infl = inflect(c, tag)
                        if infl and self._ok(infl, key):
                            out.append(infl)
                    break
        out = out[: self.per_entry]
        self._cache[ck] = out
        return out

    # -- spinning --------------------------------------------------------------------
    def _units(self, text: str, toks: list[Token]) -> list[tuple[int, int, list[str]]]:
        """Candidate swap units ``(first_token, end_token, replacements)``."""
        units = []
        n = len(toks)

        def swappable(k: int) -> bool:
            t = toks[k]
            if t.kind != WORD or not t.text.isalpha():
                return False
            before = text[t.start - 1] if t.start > 0 else " "
            after = text[t.end] if t.end < len(text) else " "
            return not (before.isdigit() or after.isdigit() or before in "-/" or after in "-/")

        for i in range(n):
            if not swappable(i):
                continue
            for length in range(min(self.max_phrase, n - i), 1, -1):
                j = i + length
                if not all(swappable(k) for k in range(i, j)):
                    continue
                if any(text[toks[k].end : toks[k + 1].start] != " " for k in range(i, j - 1)):
                    continue
                if not all(toks[k].text.islower() for k in range(i + 1, j)):
                    continue
                cands = self.phrase_candidates([toks[k].norm for k in range(i, j)])
                if cands:
                    units.append((i, j, cands))
                    break
            cands = self.word_candidates(toks[i].norm)
            if cands:
                units.append((i, i + 1, cands))
        return units

    def spin(self, text: str, rate: float, seed: int) -> SpunDoc:
        """Spin ``text``, swapping about ``rate`` of its word tokens (deterministic in seed)."""
        rng = random.Random(_stable(self.name, seed))
        toks = tokenize(text)
        n_words = sum(t.kind == WORD for t in toks)
        target = round(rate * n_words)
        units = self._units(text, toks)
        rng.shuffle(units)
        if self.every_occurrence:
            # Each picked entry's other occurrences come right after it.
            groups: dict[str, list] = {}
            for u in units:
                groups.setdefault(" ".join(t.norm for t in toks[u[0]:u[1]]), []).append(u)
            units = [u for group in groups.values() for u in group]
        used: set[int] = set()
        chosen: dict[str, str] = {}  # one choice per entry and document: the odd word recurs
        picked: list[tuple[int, int, str]] = []
        swapped = 0
        for i, j, cands in units:
            if swapped >= target:
                break
            if any(k in used for k in range(i, j)) or swapped + (j - i) > target + 1:
                continue
            key = " ".join(t.norm for t in toks[i:j])
            if key not in chosen:
                chosen[key] = rng.choice(cands)
            picked.append((i, j, match_case(toks[i].text, chosen[key])))
            used.update(range(i, j))
            swapped += j - i

        # Keep "a"/"an" agreeing with the new word, as spinners do; the article joins the swap.
        edits: list[tuple[int, int, str]] = []
        for i, j, repl in sorted(picked):
            start = toks[i].start
            if i > 0 and (i - 1) not in used and toks[i - 1].norm in ("a", "an"):
                art = toks[i - 1]
                if text[art.end : toks[i].start] == " ":
                    was = toks[i].norm[0] in _ARTICLE_VOWELS
                    now = repl[0].lower() in _ARTICLE_VOWELS
                    if was != now and (art.norm == "an") == was:
                        new_art = match_case(art.text, "an" if now else "a")
                        repl = new_art + " " + repl
                        start = art.start
                        used.add(i - 1)
            edits.append((start, toks[j - 1].end, repl))

        parts: list[str] = []
        swaps: list[Swap] = []
        pos = 0
        out_len = 0
        for start, end, repl in edits:
            parts.append(text[pos:start])
            out_len += start - pos
            swaps.append(Swap(start, end, text[start:end], out_len, out_len + len(repl), repl))
            parts.append(repl)
            out_len += len(repl)
            pos = end
        parts.append(text[pos:])
        return SpunDoc(original=text, spun="".join(parts), swaps=swaps, n_words=n_words,
                       rate=rate, spinner=self.name)


def _is_base(cand: str) -> bool:
    """False for a single word that is only an inflected form ("excursions", "voiced")."""
    if " " in cand:
        return True
    lemmas = getAllLemmas(cand)
    return not lemmas or any(cand in ls for ls in lemmas.values())


def _round_robin(pools: list[list[str]], k: int) -> list[str]:
    out: list[str] = []
    depth = max((len(p) for p in pools), default=0)
    for d in range(depth):
        for p in pools:
            if d < len(p) and p[d] not in out:
                out.append(p[d])
                if len(out) >= k:
                    return out
    return out


# ---------------------------------------------------------------------------------------
# WordNet


_WN_POS = {"noun": "n", "verb": "v", "adj": "a", "adv": "r"}
_UPOS_WN = {"NOUN": "noun", "VERB": "verb", "ADJ": "adj", "ADV": "adv"}
_ADJ_MARKER = re.compile(r"\([a-z]+\)$")


class WordNetSpinner(Spinner):
    """Sense-blind WordNet spinner: synonyms of a word are taken round-robin over its senses,
    so the first sense's synonym, then the second sense's, and so on ("bill" -> "invoice"
    or "measure", whatever the context)."""

    name = "wordnet"
    hand = HAND_WORDNET

    def __init__(self, wordnet_dir: str | Path = WORDNET_DIR) -> None:
        super().__init__()
        self.dir = Path(wordnet_dir)
        if not (self.dir / "index.noun").exists():
            raise FileNotFoundError(
                f"WordNet data not found in {self.dir} (apt install wordnet-base)")
        self.index: dict[str, dict[str, list[int]]] = {}
        self._data: dict[str, bytes] = {}
        self.phrases: set[str] = set()
        for pos in _WN_POS:
            idx: dict[str, list[int]] = {}
            with open(self.dir / f"index.{pos}", encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    if line.startswith(" "):
                        continue
                    f = line.split()
                    p_cnt = int(f[3])
                    offsets = [int(x) for x in f[4 + p_cnt + 2 :]]
                    lemma = f[0].replace("_", " ")
                    idx[lemma] = offsets
                    if " " in lemma:
                        self.phrases.add(lemma)
            self.index[pos] = idx

    def _synset_words(self, pos: str, offset: int) -> list[str]:
        data = self._data.get(pos)
        if data is None:
            data = self._data[pos] = (self.dir / f"data.{pos}").read_bytes()
        line = data[offset : data.index(b"\n", offset)].decode("utf-8", "replace")
        f = line.split(" ")
        w_cnt = int(f[3], 16)
        return [_ADJ_MARKER.sub("", w).replace("_", " ") for w in f[4 : 4 + 2 * w_cnt : 2]]

    def _senses(self, lemma: str, pos: str) -> list[list[str]]:
        return [self._synset_words(pos, off) for off in self.index[pos].get(lemma, [])]

    def base_candidates(self, lemma: str, upos: str) -> list[str]:
        pos = _UPOS_WN[upos]
        pools = [[w for w in ws if w != lemma and self._ok(w, lemma)]
                 for ws in self._senses(lemma, pos)]
        return _round_robin(pools, self.per_entry)

    def is_phrase(self, key: str) -> bool:
        return key in self.phrases

    def surface_candidates(self, form: str) -> list[str]:
        pools = []
        for pos in _WN_POS:
            pools.extend([w for w in ws if self._ok(w, form)] for ws in self._senses(form, pos))
        return _round_robin(pools, self.per_entry)


# ---------------------------------------------------------------------------------------
# Aiksaurus


def read_aiksaurus(directory: str | Path = AIKSAURUS_DIR) -> tuple:
    """Decode Aiksaurus' binary files.

    ``words.dat``: records of the word (bytes, ``:`` for space), NUL, then big-endian uint16
    meaning ids, ended by 0xFFFF. ``meanings.dat``: records of two uint16 title word indexes,
    then the uint16 indexes (into the words.dat record order) of the meaning's words, ended
    by 0xFFFF; a meaning's id is its record number.

    Returns ``(words, word_meanings, meaning_words, meaning_titles)``.
    """
    directory = Path(directory)
    raw = (directory / "words.dat").read_bytes()
    words: list[str] = []
    word_meanings: list[list[int]] = []
    i = 0
    while i < len(raw):
        j = raw.index(b"\0", i)
        words.append(raw[i:j].decode("latin-1").replace(":", " "))
        i = j + 1
        ids = []
        while True:
            (v,) = struct.unpack_from(">H", raw, i)
            i += 2
            if v == 0xFFFF:
                break
            ids.append(v)
        word_meanings.append(ids)
    raw = (directory / "meanings.dat").read_bytes()
    meaning_words: list[list[int]] = []
    meaning_titles: list[list[int]] = []
    i = 0
    while i < len(raw):
        vals = []
        while True:
            (v,) = struct.unpack_from(">H", raw, i)
            i += 2
            if v == 0xFFFF:
                break
            vals.append(v)
        meaning_titles.append(vals[:2])
        meaning_words.append(vals[2:])
    return words, word_meanings, meaning_words, meaning_titles


class _FormTableSpinner(Spinner):
    """A spinner whose table has one entry per word or phrase, whatever its part of speech
    (`_entry`); `_keys` is the table's keys."""

    def _entry(self, key: str) -> list[str]:
        raise NotImplementedError

    def _keys(self):
        raise NotImplementedError

    def base_candidates(self, lemma: str, upos: str) -> list[str]:
        return self._entry(lemma)

    def surface_candidates(self, form: str) -> list[str]:
        return self._entry(form)

    def is_phrase(self, key: str) -> bool:
        return " " in key and key in self._keys()


class AiksaurusSpinner(_FormTableSpinner):
    """Phrase-table spinner from the Aiksaurus thesaurus (the "unseen" table).

    Aiksaurus groups words into broad meanings regardless of part of speech; a word's
    candidates are ranked by how many of its meanings they share (ties broken by a fixed
    hash), which keeps the table fixed and sense-blind.
    """

    name = "aiksaurus"
    hand = HAND_AIKSAURUS
    # Broad mode puts the titles of a word's meanings first. Those titles are topic labels
    # ("vehicle" -> "soap opera", "bail" -> "hostage"), far looser than a spinner's
    # synonym table: only about a fifth of such swaps are reachable by any synonym or
    # neighbour source. The default ranks candidates by how many meanings they share with
    # the word (close synonyms first), still sense-blind; broad mode is kept as a harder,
    # less realistic variant and reported separately.
    broad = False
    min_shared = 2  # close mode: a candidate shares at least this many meanings

    def __init__(self, aiksaurus_dir: str | Path = AIKSAURUS_DIR) -> None:
        super().__init__()
        path = Path(aiksaurus_dir)
        if not (path / "words.dat").exists():
            raise FileNotFoundError(f"Aiksaurus data not found in {path} (apt install aiksaurus)")
        self.words, self.word_meanings, self.meaning_words, self.meaning_titles = (
            read_aiksaurus(path))
        self.lookup = {w.lower(): k for k, w in enumerate(self.words)}
        self._table: dict[str, list[str]] = {}

    def _entry(self, key: str) -> list[str]:
        if key in self._table:
            return self._table[key]
        k = self.lookup.get(key)
        out: list[str] = []
        if k is not None:
            # Titles of the word's meanings first (round-robin over meanings: sense-blind),
            # then words sharing the most meanings with it.
            titles = [[w for w in self.meaning_titles[m] if w != k]
                      for m in self.word_meanings[k] if m < len(self.meaning_words)]
            ranked = _round_robin(titles, 100) if self.broad else []
            shared: dict[int, int] = {}
            for m in self.word_meanings[k]:
                for w in self.meaning_words[m] if m < len(self.meaning_words) else ():
                    if w != k:
                        shared[w] = shared.get(w, 0) + 1
            close = [w for w in shared if self.broad or shared[w] >= self.min_shared]
            ranked += sorted(close, key=lambda w: (-shared[w], _stable("aik", key, w)))
            for w in ranked:
                cand = self.words[w] if w < len(self.words) else ""
                if cand not in out and self._ok(cand, key) and _is_base(cand):
                    out.append(cand)
                    if len(out) >= self.per_entry:
                        break
        self._table[key] = out
        return out

    def _keys(self):
        return self.lookup


class MyThesSpinner(_FormTableSpinner):
    """Loose-relation spinner from MyThes (OpenOffice's English thesaurus, built from
    WordNet with its broader, similar and related terms): a second *seen* table, for
    fitting the channel on more than WordNet's synonyms (`bench.fit_channel --spinners`).

    Sense-blind like the others: round-robin over a word's meanings, and within a meaning
    the looser terms (similar, related, broader) before the plain synonyms, so that its
    swaps are mostly the kind a WordNet-synonym table does not hold. Antonyms are skipped.
    Its table feeds the restorer's candidates (MyThes is one of their sources), so it is
    never an unseen spinner.
    """

    name = "mythes"
    hand = HAND_WORDNET

    def __init__(self, path: str | Path = MYTHES_PATH) -> None:
        super().__init__()
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"MyThes data not found at {path} (apt install mythes-en-us)")
        self.meanings: dict[str, list[list[str]]] = {}
        with open(path, encoding="utf-8", errors="replace") as fh:
            fh.readline()  # the encoding
            head, remaining, found = "", 0, []
            for line in fh:
                line = line.rstrip("\n")
                if remaining == 0:
                    head, n = line.rsplit("|", 1)
                    head, remaining, found = head.lower(), int(n), []
                    self.meanings[head] = found
                    continue
                remaining -= 1
                loose, plain = [], []
                for term in line.split("|")[1:]:
                    word, _, note = term.partition(" (")
                    word = word.strip().lower()
                    if not word or word == head or note.startswith("antonym"):
                        continue
                    (loose if note else plain).append(word)
                found.append(loose + plain)

    def _entry(self, key: str) -> list[str]:
        hit = self._cache.get(("m", key))
        if hit is None:
            pools = [[w for w in ws if self._ok(w, key) and _is_base(w)]
                     for ws in self.meanings.get(key, [])]
            hit = self._cache[("m", key)] = _round_robin(pools, self.per_entry)
        return hit

    def _keys(self):
        return self.meanings


class AiksaurusBroadSpinner(AiksaurusSpinner):
    """The Aiksaurus spinner with meaning titles first (looser, harder; see `broad`)."""

    name = "aiksaurus-broad"
    broad = True


class WordNetEverySpinner(WordNetSpinner):
    """`WordNetSpinner` swapping every occurrence of each word it picks (reference only)."""

    name = "wordnet-every"
    every_occurrence = True


class AiksaurusEverySpinner(AiksaurusSpinner):
    """`AiksaurusSpinner` swapping every occurrence of each word it picks (reference only)."""

    name = "aiksaurus-every"
    every_occurrence = True


SPINNERS = {"wordnet": WordNetSpinner, "aiksaurus": AiksaurusSpinner,
            "aiksaurus-broad": AiksaurusBroadSpinner, "wordnet-every": WordNetEverySpinner,
            "aiksaurus-every": AiksaurusEverySpinner, "mythes": MyThesSpinner}


def get_spinner(name: str) -> Spinner:
    """Build a spinner by name (``"wordnet"`` or ``"aiksaurus"``)."""
    return SPINNERS[name]()
