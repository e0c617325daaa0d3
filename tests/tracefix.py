"""Generated fixtures for the index and trace tests: documents and a toy spinner.

Documents are random but deterministic sentences over small word lists, so each has its
own skeleton of function words, numbers and punctuation; the toy spinner swaps content
words for other words (a sense-blind spinner's behaviour, as far as the skeleton goes).
"""

from __future__ import annotations

import random
import re

NOUNS = """river council library museum company village bridge school festival garden station
harbour market engine tower painting record season election theatre factory island valley
committee orchestra journal hospital airport forest castle mountain""".split()
ADJS = """old large small famous local northern public early modern ancient central royal
national popular rural coastal historic private major""".split()
VERBS = """opened built founded described visited replaced moved closed named designed won
restored joined produced recorded expanded""".split()
NAMES = """Smith Garcia Okafor Lindqvist Tanaka Moreau Kowalski Haddad Brennan Novak Silva
Petrov Adams Costa Meyer""".split()
SYNONYMS = """stream assembly archive gallery firm hamlet viaduct academy fair park depot port
bazaar motor spire picture log term poll playhouse plant isle dale board band paper clinic
aerodrome woodland fortress peak aged big little noted regional boreal civic initial
contemporary antique main regal countrywide well-liked pastoral seaside storied personal
chief""".split()

TEMPLATES = [
    "The {adj} {noun} was {verb} by {name} in {year}.",
    "In {year}, {name} {verb} a {adj} {noun} near the {noun2}, with {num} {noun}s.",
    "It has {num} {noun}s and a {noun2}, and it is one of the {adj} {noun}s of the region.",
    "{name} and {name2} {verb} the {noun} after {num} years; they {verb2} it again in {year}.",
    "According to {name}, the {noun} ({year}) had about {num} {noun2}s at that time.",
    "Its {noun} is {num} metres long, but the {adj} {noun2} is not.",
    "There were {num} {noun}s, which {verb} the {adj} {noun2} between {year} and {year2}.",
    "Since {year} the {noun} has been {verb} by the {adj} {noun2} of {name}.",
    "When {name} {verb} it, the {noun} cost {num} pounds; by {year} it was worth more.",
    "Was the {noun} {verb} in {year}? {name} said no: \"it was {year2}\".",
    "A {noun} of {num} {noun2}s - the first in {name}'s {noun} - {verb} on {num2} May.",
    "Neither {name} nor {name2} {verb} the {adj} {noun}, so it stayed with the {noun2}.",
    "Most of its {noun}s ({num} in all) were {verb} during {year}; others, after {year2}.",
    "The {noun2} that {name} {verb} stands {num} km from the {noun}, on the {adj} side.",
    "By {year} some {num} {noun}s had {verb} there, more than at any {adj} {noun2}.",
    "{name}'s {noun}, {verb} in {year}, is now a {adj} {noun2} with {num} rooms.",
]


def make_doc(seed: int, sentences: int = 14) -> str:
    """A deterministic pseudo-article of ``sentences`` sentences in two paragraphs."""
    rng = random.Random(seed)
    out = []
    for _ in range(sentences):
        t = rng.choice(TEMPLATES)
        out.append(t.format(
            adj=rng.choice(ADJS), noun=rng.choice(NOUNS), noun2=rng.choice(NOUNS),
            verb=rng.choice(VERBS), verb2=rng.choice(VERBS), name=rng.choice(NAMES),
            name2=rng.choice(NAMES), year=rng.randint(1800, 2020),
            year2=rng.randint(1800, 2020), num=rng.randint(2, 999),
            num2=rng.randint(1, 31)))
    half = len(out) // 2
    return " ".join(out[:half]) + "\n" + " ".join(out[half:])


_WORD = re.compile(r"\b[a-z]{4,}\b")


def spin(text: str, rate: float, seed: int = 0) -> str:
    """Swap about ``rate`` of the lower-case content words (4+ letters) for other words."""
    rng = random.Random(seed)
    function = {"with", "that", "they", "have", "been", "there", "were", "which", "from",
                "into", "after", "about", "since", "between", "metres", "years", "long",
                "time", "again", "region", "according"}

    def swap(m: re.Match) -> str:
        w = m.group()
        if w in function or rng.random() >= rate:
            return w
        return rng.choice(SYNONYMS)

    return _WORD.sub(swap, text)


def partial(text: str, share: float = 0.3, seed: int = 0) -> str:
    """A stretch of ``share`` of the text's characters, starting at a word boundary."""
    rng = random.Random(seed)
    n = int(len(text) * share)
    start = rng.randrange(0, len(text) - n)
    start = text.find(" ", start) + 1
    end = text.rfind(" ", start, start + n)
    return text[start:end]
