"""The datatrove filter and formatter, in a real (in-memory) datatrove pipeline."""

from __future__ import annotations

import pytest

pytest.importorskip("datatrove", reason="datatrove is not installed (pip install "
                    "'unspin[datatrove]')")

from datatrove.data import Document  # noqa: E402
from datatrove.executor import LocalPipelineExecutor  # noqa: E402

import unspin  # noqa: E402
from unspin.integrations.datatrove import UnspinFilter, UnspinFormatter  # noqa: E402

CLEAN = ("The city council approved a new budget on Tuesday after a long debate about "
         "school funding. The mayor said the plan would hire more teachers and repair old "
         "buildings before the winter.")
SPUN = ("The metropolis council accredited a brand new finances on Tuesday after a "
        "protracted debate about faculty funding. The mayor stated the plan would rent 3 "
        "hundred academics and the Supreme Courtroom would hear the case within the spring.")
FRENCH = "Le conseil municipal a adopté un nouveau budget mardi après un long débat."


def _run(steps: list, logs) -> list[Document]:
    return _run_docs(steps, [CLEAN, SPUN, FRENCH, ""], logs)


def _run_docs(steps: list, texts: list[str], logs) -> list[Document]:
    out: list[Document] = []

    def reader(data, rank: int = 0, world_size: int = 1):
        yield from (Document(text=t, id=str(i)) for i, t in enumerate(texts))

    def sink(data, rank: int = 0, world_size: int = 1):
        for doc in data:
            out.append(doc)
            yield doc

    LocalPipelineExecutor(pipeline=[reader, *steps, sink], tasks=1, workers=1,
                          logging_dir=str(logs), skip_completed=False).run()
    return out


def test_filter_drops_spun_and_annotates(tmp_path):
    kept = _run([UnspinFilter()], tmp_path / "logs")
    assert [d.id for d in kept] == ["0", "2", "3"]  # the spun one is dropped
    clean = kept[0].metadata
    assert clean["unspin_spun"] is False and 0 <= clean["unspin_score"] < 0.5
    assert kept[1].metadata["unspin_supported"] is False  # French: kept, not judged


def test_filter_annotate_only_keeps_everything(tmp_path):
    kept = _run([UnspinFilter(annotate_only=True)], tmp_path / "logs")
    assert [d.id for d in kept] == ["0", "1", "2", "3"]
    spun = kept[1].metadata
    assert spun["unspin_spun"] is True and spun["unspin_score"] > 0.9
    spans = spun["unspin_spans"]
    assert any(s["text"] == "Courtroom" and s["suggestion"] == "Court" for s in spans)
    for s in spans:
        assert SPUN[s["start"]:s["end"]] == s["text"]


def test_filter_without_spans_keeps_score_and_verdict():
    with_spans, without = Document(text=SPUN, id="a"), Document(text=SPUN, id="b")
    assert UnspinFilter(spans=False).filter(without) == UnspinFilter().filter(with_spans)
    assert without.metadata["unspin_score"] == with_spans.metadata["unspin_score"]
    assert with_spans.metadata["unspin_spans"] and without.metadata["unspin_spans"] == []
    # The document's familiarity too (the same value as the API's report).
    fam = unspin.check(SPUN).familiarity
    assert fam is not None
    assert with_spans.metadata["unspin_familiarity"] == fam
    assert without.metadata["unspin_familiarity"] == fam


def test_filter_counts_known_tortured_phrases():
    paper = Document(text="In this study we apply counterfeit consciousness to images of "
                          "bosom malignancy collected at two sites between 2015 and 2019.",
                     id="p")
    plain = Document(text=CLEAN, id="c")
    UnspinFilter(annotate_only=True).filter(paper)
    UnspinFilter(annotate_only=True, spans=False).filter(plain)
    assert paper.metadata["unspin_terms"] == 2 and paper.metadata["unspin_spun"] is True
    assert plain.metadata["unspin_terms"] == 0


def test_filter_drop_reason_is_spun():
    f = UnspinFilter()
    assert f.filter(Document(text=SPUN, id="x")) == (False, "spun")
    assert f.filter(Document(text=CLEAN, id="y")) is True


def test_formatter_restores_text(tmp_path):
    docs = _run([UnspinFormatter()], tmp_path / "logs")
    assert "Supreme Court would" in docs[1].text and "Courtroom" not in docs[1].text
    assert docs[1].metadata["unspin_edits"] > 0
    assert docs[0].text == CLEAN and docs[0].metadata["unspin_edits"] == 0
    assert docs[2].text == FRENCH


def test_batched_formatter_restores_as_one_by_one(tmp_path):
    texts = [CLEAN, SPUN, FRENCH, "", SPUN + " " + CLEAN, "x" * 50]
    batched = _run_docs([UnspinFormatter(batch_size=4, max_chars=40)], texts, tmp_path / "a")
    single = _run_docs([UnspinFormatter(batch_size=1, max_chars=40)], texts, tmp_path / "b")
    assert [(d.id, d.text, d.metadata) for d in batched] == \
        [(d.id, d.text, d.metadata) for d in single]
    want = [t if len(t) > 40 else unspin.restore(t).text for t in texts]
    assert [d.text for d in batched] == want
    assert "unspin_edits" not in batched[1].metadata  # longer than max_chars: untouched
    full = _run_docs([UnspinFormatter(batch_size=4)], texts, tmp_path / "c")
    assert [d.text for d in full] == [unspin.restore(t).text for t in texts]
    assert full[1].metadata["unspin_edits"] == len(unspin.restore(SPUN).edits) > 0
    with pytest.raises(ValueError, match="batch_size"):
        UnspinFormatter(batch_size=0)


def test_formatter_two_step_option():
    import unspin

    text = ("The Wright Flyer was the anterior aircraft to fly under its own power, and it "
            "changed travel forever.")
    assert UnspinFormatter(two_step=True).format(text) == unspin.restore(text,
                                                                           two_step=True).text
    assert "the first aircraft" in UnspinFormatter(two_step=True).format(text)
    assert "the first aircraft" not in UnspinFormatter().format(text)


def test_batched_filter_annotates_as_one_by_one(tmp_path):
    docs = [Document(text=t, id=str(i)) for i, t in enumerate([CLEAN, SPUN, FRENCH, "", None])]
    f = UnspinFilter(batch_size=8)
    batched = f.filter_batch(docs)
    single = [Document(text=d.text, id=d.id) for d in docs]
    assert batched == [UnspinFilter().filter(d) for d in single]
    assert batched[1] == (False, "spun")
    assert [d.metadata for d in docs] == [d.metadata for d in single]
    # Through the executor, with batches that do not divide the input.
    kept = _run([UnspinFilter(batch_size=3)], tmp_path / "logs")
    assert [d.id for d in kept] == ["0", "2", "3"]
