"""The dolma tagger (skipped when dolma is absent: dolma 1.x needs numpy<2)."""

from __future__ import annotations

import pytest

pytest.importorskip("dolma", reason="dolma is not installed (pip install dolma; it needs "
                    "numpy<2)")

from dolma.core.data_types import InputSpec  # noqa: E402
from dolma.core.registry import TaggerRegistry  # noqa: E402

import unspin  # noqa: E402
import unspin.integrations.dolma  # noqa: E402,F401 - registers the tagger

SPUN = ("The metropolis council accredited a brand new finances on Tuesday after a "
        "protracted debate about faculty funding. The mayor stated the plan would rent 3 "
        "hundred academics and the Supreme Courtroom would hear the case within the spring.")
CLEAN = ("The city council approved a new budget on Tuesday after a long debate about "
         "school funding. The mayor said the plan would hire more teachers and repair old "
         "buildings before the winter.")


def _tag(text: str) -> dict:
    tagger = TaggerRegistry.get("unspin")()
    return tagger.tag(InputSpec(id="1", text=text, source="test", version="v0"))


def test_registered_as_unspin():
    assert TaggerRegistry.has("unspin")


def test_spun_document_gets_score_and_spans():
    out = _tag(SPUN)
    ((start, end, score),) = out["doc"]
    assert (start, end) == (0, len(SPUN)) and score > 0.9
    spans = out["spun"]
    assert any(SPUN[s:e] == "Courtroom" for s, e, _ in spans)
    assert all(0 < c <= 1 for _, _, c in spans)


def test_known_tortured_phrases_are_counted():
    text = ("Recent advances in counterfeit consciousness have changed how clinics screen "
            "patients for bosom malignancy, and the results are promising for early care.")
    out = _tag(text)
    ((start, end, terms),) = out["terms"]
    assert (start, end) == (0, len(text))
    assert terms == unspin.check(text).terms >= 1
    assert _tag(CLEAN)["terms"][0][2] == 0


def test_clean_and_unsupported_documents():
    ((_, _, score),) = _tag(CLEAN)["doc"]
    assert score < 0.5
    out = _tag("Le conseil municipal a adopté un nouveau budget mardi après un long débat.")
    assert "doc" not in out and "terms" not in out and out["not_analysed"][0][2] == 1.0


def test_dolma_tag_command_runs_the_tagger(tmp_path):
    """``dolma tag --taggers unspin --tagger_modules unspin.integrations.dolma`` end to end."""
    import gzip
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).parent / "dolma"
    if not exe.exists():
        pytest.skip("the dolma command is not installed next to this Python")
    docs = tmp_path / "documents"
    docs.mkdir()
    with gzip.open(docs / "a.json.gz", "wt", encoding="utf-8") as fh:
        for i, text in enumerate([SPUN, CLEAN]):
            fh.write(json.dumps({"id": str(i), "text": text, "source": "t", "version": "v0"})
                     + "\n")
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    subprocess.run([str(exe), "tag", "--documents", str(docs / "*.json.gz"), "--experiment",
                    "spin", "--taggers", "unspin", "--tagger_modules",
                    "unspin.integrations.dolma", "--processes", "1"],
                   env=env, check=True, capture_output=True)
    with gzip.open(tmp_path / "attributes" / "spin" / "a.json.gz", "rt") as fh:
        rows = [json.loads(line) for line in fh]
    assert rows[0]["attributes"]["spin__unspin__doc"][0][2] > 0.9
    assert rows[0]["attributes"]["spin__unspin__spun"]
    assert rows[1]["attributes"]["spin__unspin__doc"][0][2] < 0.5
    assert rows[1]["attributes"]["spin__unspin__terms"][0][2] == 0
