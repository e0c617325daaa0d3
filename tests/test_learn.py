"""Learning substitution tables from aligned (spun, original) pairs."""

from __future__ import annotations

import json
import os

import unspin
from unspin.candidates import LearnedTable
from unspin.cli import main
from unspin.learn import aligned_pairs, learn_table
from unspin.models import get_models

ORIGINAL = "The committee also announced a new policy on Monday, because of rising costs."
SPUN = "The committee additionally declared a new policy on Monday, as a result of rising costs."


def test_aligned_pairs_split_neighbouring_swaps_and_keep_phrases():
    pairs = aligned_pairs(SPUN, ORIGINAL)
    assert (("additionally",), ("also",)) in pairs
    assert (("declared",), ("announced",)) in pairs
    assert (("as", "a", "result"), ("because",)) in pairs
    assert all(len(o) <= 4 and len(g) <= 4 for o, g in pairs)


def test_identical_texts_and_punctuation_changes_give_nothing():
    assert aligned_pairs(ORIGINAL, ORIGINAL) == []
    assert aligned_pairs("Costs rose; prices fell.", "Costs rose, prices fell.") == []


def test_learn_table_counts_and_filters():
    docs = [(SPUN, ORIGINAL), ("They additionally met.", "They also met.")]
    table = learn_table(docs)
    assert (("additionally",), ("also",)) in table
    counts = {(o, g): c for o, g, c in table.items()}
    assert counts[(("additionally",), ("also",))] == 2
    assert len(learn_table(docs, min_count=2)) == 1


def test_cli_learn_then_restore_with_the_table(tmp_path, capsys):
    pairs = tmp_path / "pairs.jsonl"
    lines = []
    for spun_text in ("The engineers said the new gizmo would be ready by Monday.",
                      "A gizmo like this one costs less than a car.",
                      "They sold the gizmo to a museum last year."):
        lines.append(json.dumps(
            {"spun": spun_text, "original": spun_text.replace("gizmo", "device")}))
    pairs.write_text("\n".join(lines) + "\nnot json\n"
                     + json.dumps({"spun": 3, "original": "x"}) + "\n")
    out = tmp_path / "table.tsv"
    assert main(["learn", str(pairs), "-o", str(out)]) == 0
    assert "2 unusable lines skipped" in capsys.readouterr().err
    table = LearnedTable.load(out)
    assert (("gizmo",), ("device",)) in table
    text = "Our team tested the gizmo on the track, and the gizmo worked."
    assert "device" not in unspin.restore(text).text
    assert unspin.restore(text, table=str(out)).text.startswith("Our team tested the device")
    assert main(["learn", str(tmp_path / "missing.jsonl"), "-o", str(out)]) == 2


def test_each_new_table_gets_models_of_its_own():
    # The model cache is keyed by the table's id; a freed table's id is usually given to
    # the next object of its size, here the next table.
    for first, second in (("meeting", "session"), ("conference", "assembly")):
        table = LearnedTable()
        table.add(("gathering",), (first,), 5)
        get_models(table)
        del table
        table = LearnedTable()
        table.add(("gathering",), (second,), 5)
        models = get_models(table)
        assert models.source._learned["gathering"] == {(second,): 5}
        assert models.table is table


def test_a_table_file_rewritten_in_place_is_read_again(tmp_path):
    path = tmp_path / "table.tsv"
    for k, original in enumerate(("meeting", "session")):
        table = LearnedTable()
        table.add(("gathering",), (original,), 5)
        table.save(path)
        # Two writes within the clock's resolution would look alike: set the times.
        os.utime(path, ns=(10**18 + k, 10**18 + k))
        assert get_models(str(path)).source._learned["gathering"] == {(original,): 5}
    assert get_models(path).source._learned["gathering"] == {("session",): 5}
