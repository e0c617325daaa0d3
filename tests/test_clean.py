"""Tests for the cleaning stage: each rule, offset bookkeeping, and the language gate."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unspin.clean import Cleaned, clean, is_english
from unspin.report import Edit


def apply_edits(text: str, edits: list[Edit]) -> str:
    """Apply input-offset edits in order; they must be sorted and non-overlapping."""
    parts: list[str] = []
    pos = 0
    for e in edits:
        assert e.start >= pos, "edits overlap or are out of order"
        assert e.start <= e.end <= len(text)
        parts.append(text[pos : e.start])
        parts.append(e.replacement)
        pos = e.end
    parts.append(text[pos:])
    return "".join(parts)


def check_invariants(text: str, c: Cleaned) -> None:
    """Everything that must hold for any input."""
    for e in c.edits:
        assert text[e.start : e.end] == e.text
        assert e.kind == "cleanup"
        assert e.text != e.replacement
        assert 0.0 <= e.confidence <= 1.0
    assert apply_edits(text, c.edits) == c.text
    previous = 0
    for pos in range(len(c.text) + 1):
        mapped = c.to_input(pos)
        assert 0 <= mapped <= len(text)
        assert mapped >= previous, "to_input must be monotone"
        previous = mapped
    assert c.to_input(len(c.text)) == len(text)


def check_span_mapping(text: str, c: Cleaned) -> None:
    """Every span of cleaned text maps to an input span whose cleaning contains it."""
    n = len(c.text)
    step = max(1, n // 12)
    for start in range(0, n + 1, step):
        for end in range(start, n + 1, step):
            s, e = c.span_to_input(start, end)
            assert 0 <= s <= e <= len(text)
            if end > start:
                # Cleaning the input span on its own (same edits, restricted) reproduces at
                # least the requested text: the span covers every source character.
                inside = [x for x in c.edits if s <= x.start and x.end <= e]
                produced = apply_edits(text[s:e], [_shift(x, -s) for x in inside])
                assert c.text[start:end] in produced


def _shift(e: Edit, by: int) -> Edit:
    return Edit(e.start + by, e.end + by, e.text, e.replacement, e.confidence, e.kind)


# --------------------------------------------------------------------------------------
# Mojibake


@pytest.mark.parametrize(
    ("raw", "fixed"),
    [
        ("donâ€™t", "don’t"),
        ("I donâ€™t know.", "I don’t know."),
        ("â€œQuotedâ€\x9d text", "“Quoted” text"),
        ("cafÃ© and rÃ©sumÃ©", "café and résumé"),
        ("double Ã¢â‚¬â„¢ decoded", "double ’ decoded"),
        ("a\x93b\x94c", "a“b”c"),  # C1 controls that were cp1252 quotes
        ("ﬁne oﬃce", "fine office"),
        ("price:Â 5", "price: 5"),
    ],
)
def test_mojibake_fixed(raw: str, fixed: str) -> None:
    c = clean(raw)
    assert c.text == fixed
    assert c.edits
    check_invariants(raw, c)


def test_mojibake_edit_is_precise() -> None:
    raw = "We donâ€™t stop."
    (edit,) = clean(raw).edits
    assert (edit.start, edit.end, edit.text, edit.replacement) == (6, 9, "â€™", "’")


def test_flattened_no_break_space_becomes_space() -> None:
    c = clean("Â ")
    assert c.text == " "


def test_an_accented_letter_before_a_space_is_not_sent_to_ftfy(monkeypatch) -> None:
    # "é " could be the start of a three-byte sequence whose no-break space was flattened,
    # but only if a continuation follows; a word ending in an accent is not mojibake.
    import unspin.clean as clean_module

    def no_ftfy():
        raise AssertionError("ftfy called")

    monkeypatch.setattr(clean_module, "_ftfy", no_ftfy)
    text = "Pokémon and José met at the café on Tomás Street. Ça va."
    assert clean(text).text == text
    with pytest.raises(AssertionError):
        clean("The price:Â 5 euros, cafÃ© open.")


def test_legitimate_accents_untouched() -> None:
    text = "The naïve café served crème brûlée in São Paulo; “quoted” — fine."
    c = clean(text)
    assert c.text == text
    assert c.edits == []


def test_decomposed_accents_composed() -> None:
    raw = "cafe\u0301 au lait"
    c = clean(raw)
    assert c.text == "café au lait"
    check_invariants(raw, c)


# --------------------------------------------------------------------------------------
# Shortcodes


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("[ad_1]\nFirst paragraph.\n[ad_2]", "First paragraph.\n"),
        ("Before [ad] after.", "Before after."),
        ("Before [adsense]. After", "Before. After"),
        ("[ad_1] Starts a line.", "Starts a line."),
        ("Glued[ad_2]word", "Gluedword"),
        ("Text [AD] more", "Text more"),
        ('One [the_ad id="12"] two', "One two"),
        ('[gallery ids="1,2,3"]\nBody.', "Body."),
        ("[caption]A photo[/caption]", "A photo"),
        ("[ad_1] [ad_2]\nBody.", "Body."),
    ],
)
def test_shortcodes_removed(raw: str, expected: str) -> None:
    c = clean(raw)
    assert c.text == expected
    assert all(e.replacement == "" for e in c.edits)
    check_invariants(raw, c)


@pytest.mark.parametrize(
    "text",
    [
        "He wrote [sic] and cited [1] and [2].",
        "The claim [citation needed] stands.",
        "An array a[i] and [Editor's note: see below].",
    ],
)
def test_bracketed_prose_kept(text: str) -> None:
    assert clean(text).text == text


# --------------------------------------------------------------------------------------
# Spintax


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("A {big|large|huge} dog.", "A big dog."),
        ("Say {that a} word.", "Say that a word."),
        ("One {word} here.", "One word here."),
        ("{ spaced | alt } x", "spaced x"),
        ("Nested {a|{b|c}} end", "Nested a end"),
        ("{Hello|Hi} {world|earth}!", "Hello world!"),
    ],
)
def test_spintax_resolved(raw: str, expected: str) -> None:
    c = clean(raw)
    assert c.text == expected
    check_invariants(raw, c)


def test_spintax_edit_offsets() -> None:
    raw = "A {big|large} dog."
    (edit,) = clean(raw).edits
    assert (edit.start, edit.end, edit.text, edit.replacement) == (2, 13, "{big|large}", "big")


@pytest.mark.parametrize(
    "text",
    ['{"key": 1}', "p { color: red; }", "\\textbf{bold}", "x = {a=1}", "${name}"],
)
def test_code_braces_kept(text: str) -> None:
    assert clean(text).text == text


# --------------------------------------------------------------------------------------
# Boilerplate lines


@pytest.mark.parametrize(
    "line",
    [
        "Sign up for our newsletter",
        "Subscribe to our daily newsletter",
        "Subscribe to our daily newsletter to get the latest news.",
        "Join our mailing list",
        "Click here to subscribe.",
        "Share this article",
        "Share this article on Facebook!",
        "Follow us on Twitter",
        "Follow us on Facebook and Instagram.",
        "**Sign up for our free weekly newsletter!**",
        "» Click here to subscribe «",
        "Advertisement",
        "Related Posts:",
        "Follow us on Twitter. Sign up for our newsletter.",
    ],
)
def test_boilerplate_line_removed(line: str) -> None:
    raw = f"First real paragraph.\n{line}\nSecond real paragraph."
    c = clean(raw)
    assert c.text == "First real paragraph.\nSecond real paragraph."
    (edit,) = c.edits
    assert edit.text == line + "\n"
    assert edit.replacement == ""
    check_invariants(raw, c)


@pytest.mark.parametrize(
    "line",
    [
        "Many readers sign up for our newsletter because it is short.",
        "Sign up for our newsletter. The minister said on Tuesday that taxes will rise.",
        "Advertisement revenue fell by five percent last year.",
        "She told them to follow us on the path through the woods.",
        "Share prices rose sharply after the announcement.",
        "Subscribe to our daily newsletter " + "and read about all the things " * 4,
        "Following the storm, Twitter users shared photos.",
    ],
)
def test_prose_lines_kept(line: str) -> None:
    raw = f"Intro.\n{line}\nOutro."
    assert clean(raw).text == raw


# --------------------------------------------------------------------------------------
# Control, zero-width and binary characters


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("zero\u200bwidth", "zerowidth"),
        ("\ufeffBOM at start", "BOM at start"),
        ("nul\x00byte", "nulbyte"),
        ("w\x00o\x00r\x00d", "word"),
        ("soft\xadhyphen", "softhyphen"),
        ("bell\x07 and\x1b escape", "bell and escape"),
        ("windows\r\nlines\r\n", "windows\nlines\n"),
        ("old\rmac", "old\nmac"),
        ("page\x0cbreak", "page\nbreak"),
        ("tab\tand\nnewline", "tab\tand\nnewline"),
        ("joiner\u2060here\u200d", "joinerhere"),
    ],
)
def test_controls_removed(raw: str, expected: str) -> None:
    c = clean(raw)
    assert c.text == expected
    check_invariants(raw, c)


def test_html_entities_decoded() -> None:
    raw = "It&rsquo;s &amp; it&#8217;s&nbsp;here &bogus; AT&T;"
    c = clean(raw)
    assert c.text == "It’s & it’s here &bogus; AT&T;"
    check_invariants(raw, c)


# --------------------------------------------------------------------------------------
# Clean text and mixed debris


CLEAN_TEXTS = [
    "",
    "Plain English text.",
    "Two lines.\nSecond one, with “curly quotes” — and a dash.\n\nNew paragraph.\t",
    "Numbers 1,200 and 3.5%; emoji 🙂; CJK 中文; Ελληνικά; русский.",
    "Braces are rare in prose, and [sic] brackets stay.",
]


@pytest.mark.parametrize("text", CLEAN_TEXTS)
def test_clean_text_unchanged(text: str) -> None:
    c = clean(text)
    assert c.text == text
    assert c.edits == []
    assert [c.to_input(i) for i in range(len(text) + 1)] == list(range(len(text) + 1))


def test_mixed_debris_offsets() -> None:
    raw = (
        "[ad_1]\nThe {big|large} dog donâ€™t\u200b bark.\r\n"
        "Sign up for our newsletter\nIt&rsquo;s {quiet}. [ad_2]\n"
    )
    c = clean(raw)
    assert c.text == "The big dog don’t bark.\nIt’s quiet.\n"
    check_invariants(raw, c)
    check_span_mapping(raw, c)
    # "dog" in the cleaned text maps onto "dog" in the input.
    i = c.text.index("dog")
    s, e = c.span_to_input(i, i + 3)
    assert raw[s:e] == "dog"
    # A span inside a replacement maps to the whole replaced region.
    j = c.text.index("big")
    s, e = c.span_to_input(j + 1, j + 2)
    assert raw[s:e] == "{big|large}"


def test_composed_edits_merge_overlapping_stages() -> None:
    # Mojibake inside spintax inside a line: the stages' edits collapse into input edits
    # that still reproduce the output.
    raw = "{donâ€™t|do not} go\n[ad_1]"
    c = clean(raw)
    assert c.text == "don’t go\n"
    check_invariants(raw, c)


def test_to_input_examples() -> None:
    raw = "ab[ad]cd"
    c = clean(raw)
    assert c.text == "abcd"
    # "c" starts after the removed shortcode; an end at 2 stops before it.
    assert c.to_input(2) == 6
    assert c.span_to_input(0, 2) == (0, 2)
    assert c.span_to_input(2, 4) == (6, 8)
    assert c.span_to_input(1, 3) == (1, 7)
    assert c.span_to_input(3, 3) == (7, 7)


# --------------------------------------------------------------------------------------
# Property tests

WORDS = ["the", "dog", "barked", "loudly", "at", "a", "café", "1,200", ".", ",", "!", "\n"]
DEBRIS = [
    "â€™",
    "â€œ",
    "Ã©",
    "Â ",
    "\x93",
    "[ad_1]",
    "[ad]",
    "[adsense]",
    '[the_ad id="3"]',
    "{big|large}",
    "{that a}",
    "{",
    "}",
    "|",
    "\x00",
    "\u200b",
    "\r\n",
    "\r",
    "&amp;",
    "&#8217;",
    "e\u0301",
    "ﬁ",
    "\nSign up for our newsletter\n",
    "\nShare this article",
    "\x1b[1m",
    "\ud800",
]


@st.composite
def debris_text(draw: st.DrawFn) -> str:
    pieces = draw(st.lists(st.sampled_from(WORDS + DEBRIS), max_size=40))
    seps = draw(st.lists(st.sampled_from(["", " ", "  ", "\t"]), min_size=len(pieces)))
    return "".join(p + s for p, s in zip(pieces, seps, strict=False))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_property_any_text(text: str) -> None:
    c = clean(text)
    check_invariants(text, c)
    check_span_mapping(text, c)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(debris_text())
def test_property_debris(text: str) -> None:
    c = clean(text)
    check_invariants(text, c)
    check_span_mapping(text, c)
    for junk in ("[ad_1]", "[adsense]", "\x00", "\u200b", "\r", "â€™", "Sign up for our"):
        assert junk not in c.text


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=40))
def test_property_clean_words_untouched(words: list[str]) -> None:
    text = " ".join(words)
    c = clean(text)
    assert c.text == text
    assert c.edits == []


@settings(max_examples=100, deadline=None)
@given(debris_text())
def test_property_idempotent(text: str) -> None:
    # Cleaning cleaned text changes nothing more (for the debris we generate).
    once = clean(text).text
    assert clean(once).text == once


def test_large_single_line() -> None:
    unit = (
        "The quick brown fox donâ€™t jump over the lazy dog [ad_1] and {big|large} cats "
        "sleep all day long while “curly” quotes stay put and naïve cafés open late. "
    )
    raw = unit * (5_000_000 // len(unit) + 1)
    assert "\n" not in raw and len(raw) >= 5_000_000
    started = time.perf_counter()
    c = clean(raw)
    elapsed = time.perf_counter() - started
    assert apply_edits(raw, c.edits) == c.text
    assert "[ad_1]" not in c.text and "â€™" not in c.text and "{big" not in c.text
    assert c.text.count("don’t") == raw.count("donâ€™t")
    assert c.text.count("naïve cafés") == raw.count("naïve cafés")
    # Generous: a linear pass takes seconds; a quadratic one would take hours.
    assert elapsed < 300


def test_large_line_of_mojibake_and_spaces() -> None:
    # Worst cases for window cutting and whitespace scanning: dense mojibake, long runs of
    # spaces, no whitespace at all.
    for raw in ("Ã©" * 200_000, " " * 1_000_000 + "[ad]", "x" * 1_000_000 + "Ã©", "é" * 100_000):
        c = clean(raw)
        assert apply_edits(raw, c.edits) == c.text


# --------------------------------------------------------------------------------------
# Language gate

ENGLISH = [
    "The cat sat on the mat.",
    "Hello world",
    "Yes",
    "Apple unveils new iPhone models",
    "The central bank raised interest rates by a quarter of a percentage point on "
    "Wednesday, saying that inflation remained too high and that it would keep policy "
    "tight until there was clear evidence of a slowdown in price growth.",
    "Officials said the fire, which started in a warehouse near the port, had been brought "
    "under control by early morning. No one was injured, but several nearby buildings were "
    "evacuated as a precaution and roads in the area will remain closed until Friday.",
    "I don’t know what you mean. Can you tell me more about it?",
]
GERMAN = (
    "Die Bundesregierung hat am Mittwoch beschlossen, die Steuern für kleine und mittlere "
    "Unternehmen zu senken. Der Finanzminister sagte, dass diese Maßnahme die Wirtschaft "
    "stärken und neue Arbeitsplätze schaffen werde."
)
FRENCH = (
    "Le gouvernement a annoncé mercredi une série de mesures pour soutenir les petites "
    "entreprises. Selon le ministre, ces aides seront versées dès le mois prochain et "
    "concerneront plus de deux millions de salariés dans tout le pays."
)
SPANISH = (
    "El gobierno anunció el miércoles una serie de medidas para apoyar a las pequeñas "
    "empresas. Según el ministro, estas ayudas se pagarán a partir del próximo mes y "
    "beneficiarán a más de dos millones de trabajadores en todo el país."
)
RUSSIAN = (
    "Правительство в среду объявило о ряде мер по поддержке малого бизнеса. По словам "
    "министра, эти выплаты начнутся в следующем месяце."
)
CHINESE = (
    "政府周三宣布了一系列支持小企业的措施。"
    "部长表示，这些补贴将从下个月开始发放，惠及全国两百多万名员工。"
)


@pytest.mark.parametrize("text", ENGLISH)
def test_is_english_accepts_english(text: str) -> None:
    assert is_english(text) == (True, "en")


@pytest.mark.parametrize("text", [GERMAN, FRENCH, SPANISH, RUSSIAN, CHINESE, "Привет мир", "你好"])
def test_is_english_rejects_other_languages(text: str) -> None:
    assert is_english(text) == (False, "unsupported")


@pytest.mark.parametrize("text", ["", "   ", "\n\t \n"])
def test_is_english_empty(text: str) -> None:
    assert is_english(text) == (False, "empty")


def test_is_english_binary() -> None:
    junk = bytes(range(256)).decode("latin-1") * 20
    assert is_english(junk) == (False, "binary")
    assert is_english("\ufffd" * 50 + " abc") == (False, "binary")
    assert is_english("\x00\x01\x02 data \x03\x04\x05\x06") == (False, "binary")


def test_is_english_on_cleaned_debris() -> None:
    raw = "[ad_1]\nThe {big|large} dog donâ€™t bark at the mailman in the morning, they say.\n"
    assert is_english(clean(raw).text) == (True, "en")


def test_is_english_large_text_is_sampled() -> None:
    text = ENGLISH[4] + " " + GERMAN * 2_000
    ok, reason = is_english(text)
    assert (ok, reason) == (False, "unsupported")


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=300))
def test_ascii_counts_agree_with_the_general_regular_expressions(text):
    from unspin.clean import _ASCII_LETTER, _BAD, _LETTER, _SPACE, _ascii_counts

    visible, bad, letters, ascii_letters, latin = _ascii_counts(text)
    assert visible == len(text) - len(_SPACE.findall(text))
    assert bad == len(_BAD.findall(text))
    assert letters == len(_LETTER.findall(text)) == ascii_letters == latin
    assert ascii_letters == len(_ASCII_LETTER.findall(text))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.one_of(
    st.sampled_from(list("The cat sat. \n\t\x1c\x00\x7f_9")),
    st.characters(max_codepoint=0x2FFF),
    st.sampled_from(["\x85", "\x9f", "\ufffd", "\ue000", "\u0378", "\u00d7", "\u1e9e", "\u00a0",
                     "\u2028", "½", "²", "٣", "\u0301", "\ud800"])), max_size=200))
def test_language_gate_counts_agree_with_the_regular_expressions(text):
    import unspin.clean as clean_module
    from unspin.clean import _counts, _regex_counts

    mostly_ascii = "An ordinary English sentence about the weather. " * 3 + text
    compiled = clean_module._ctext
    try:
        for helper in (compiled, None):  # the compiled pass, and the Python one without it
            clean_module._ctext = helper
            assert _counts(text) == _regex_counts(text)
            assert _counts(mostly_ascii) == _regex_counts(mostly_ascii)
    finally:
        clean_module._ctext = compiled


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=300))
def test_ascii_word_pattern_finds_the_unicode_words(text):
    from unspin.clean import _WORD, _WORD_LOWER_ASCII

    low = text.lower()
    assert _WORD_LOWER_ASCII.findall(low) == _WORD.findall(low)


@given(st.text(max_size=300))
def test_language_gate_words_are_lowered_one_by_one(text):
    from unspin.clean import _WORD

    found = _WORD.findall(text)
    joined = "\n".join(found).lower().split("\n") if found else []
    assert joined == [w.lower() for w in found]


def test_looks_binary_only_for_binary_data() -> None:
    import random

    from unspin.clean import looks_binary

    rng = random.Random(3)
    assert looks_binary(rng.randbytes(5000).decode("latin-1"))
    assert looks_binary("\x00\x01 data \x02\x03\x04 more \x05\x06\x07\x08 bytes")
    english = "The minister said the plan would cost three million pounds. " * 20
    assert not looks_binary(english)
    assert not looks_binary("")
    # Damage that cleaning repairs is not binary: mojibake (its C1 characters), a few
    # stray controls, Windows line ends, zero-width spaces.
    mojibake = "The committeeâ€™s report, Â£5m, was â€œfinalâ€\x9d. " * 20
    assert not looks_binary(mojibake)
    assert not looks_binary(english.replace(". ", ".\x07\r\n\u200b", 3))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab Ã©â€™\x9d£Â", max_size=40), st.text(alphabet="ab é’”£", max_size=40))
def test_diff_edits_turn_one_string_into_the_other(a: str, b: str) -> None:
    import re

    from unspin.clean import _diff

    def apply(text: str, raw) -> str:
        out, pos = [], 0
        for start, end, rep, _ in raw:
            assert start >= pos and end > start  # in order, each covers some input
            out += [text[pos:start], rep]
            pos = end
        return "".join(out) + text[pos:]

    if a and a != b:  # any two strings: the whole-window diff
        assert apply(a, _diff(a, b, 0, 1.0)) == b
    # The same ASCII characters on both sides (what mojibake fixes leave): the run-by-run
    # path. Runs of other characters become one character, nothing, or two.
    b2 = re.sub(r"[^\x00-\x7f]+", lambda m: ("é", "", "’”")[min(len(m.group()), 3) - 1], a)
    if a and b2 != a:
        assert apply(a, _diff(a, b2, 0, 1.0)) == b2


def test_dense_mojibake_is_fixed_word_by_word() -> None:
    raw = "cafÃ© naÃ¯ve rÃ©sumÃ© " * 300
    c = clean(raw)
    assert c.text == "café naïve résumé " * 300
    assert apply_edits(raw, c.edits) == c.text
    # One edit per mojibake pair (four a repetition), each exactly the two characters.
    assert len(c.edits) == 4 * 300 and all(len(e.text) == 2 for e in c.edits)


def test_information_separators_are_not_binary() -> None:
    from unspin.clean import looks_binary

    # \x1c-\x1f are white space to Python and line breaks to the cleaner.
    text = "The first record.\x1eThe second record.\x1f" * 50
    assert not looks_binary(text)
    assert clean(text).text.count("\n") == 100


_BOILER_BITS = [
    "Sign up for our newsletter", "sign-up now", "Subscribe today", "Share this article",
    "Follow us on Twitter", "Advertisement", "Read more", "Related posts", "You may also like",
    "Don't forget to subscribe", "Enter your email", "E-mail this story",
    "Click here to continue", "Join our community", "ad",
    "Get the latest news delivered straight to your inbox", "See also", "Tweet",
    "The minister said", "12 people", "Éclair", "ſhare this article", "\u212aeep reading",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_BOILER_BITS), st.text(max_size=12)), min_size=1,
                max_size=3),
       st.sampled_from(["", " ", "- ", "** ", "1. "]), st.sampled_from(["", ".", "!", " :"]),
       st.booleans())
def test_boilerplate_first_word_filter_changes_nothing(parts, lead, end, upper) -> None:
    """The first-word shortcut gives the regular expressions' answer on every line."""
    import unspin.clean as clean_module

    line = lead + ". ".join(parts) + end
    line = line.upper() if upper else line
    words = line.split()
    slow = (len(line) <= 300 and bool(words) and len(words) < clean_module._MAX_LINE_WORDS
            and all(clean_module._is_boilerplate_sentence(s)
                    for s in clean_module._SENT_SPLIT.split(line.strip())))
    assert clean_module._is_boilerplate_line(line) == slow


_BOILER_PIECES = [
    "Sign up for our newsletter.", "Subscribe now", "Share this article", "Follow us on Twitter",
    "Advertisement", "Read more", "Related posts", "You may also like", "Click here to",
    "The council met.", "sign", "SHARE", "Ʃhare", "ſign up", "«Share this post»", "— ",
    "_", "__share", "2 share", "share2", "Signé", "étude", "x" * 320, "\n", "\n\n", " ",
    "...", "Please subscribe to our e-mail list", "Don't forget to subscribe!", "ad",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_BOILER_PIECES), max_size=20))
def test_compiled_boilerplate_lines_are_the_line_by_line_ones(pieces):
    from unspin import clean as clean_mod

    if clean_mod._ctext is None:
        pytest.skip("compiled helper not built")
    text = "".join(pieces)
    assert clean_mod._boilerplate(text) == clean_mod._boilerplate_by_lines(text)


def test_boilerplate_lines_with_letters_beyond_ascii_are_still_read():
    from unspin import clean as clean_mod

    text = "The council met.\nſign up for our newsletter\nSubscribe now\nShare2 this\n"
    got = clean_mod._boilerplate(text)
    assert got == clean_mod._boilerplate_by_lines(text)
    assert [text[a:b] for a, b, _, _ in got] == ["ſign up for our newsletter\n", "Subscribe now\n"]
