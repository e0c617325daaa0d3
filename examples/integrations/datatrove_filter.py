"""Run unspin inside a datatrove pipeline: annotate, drop spun documents, restore the rest.

    pip install 'unspin[datatrove]'
    python examples/integrations/datatrove_filter.py

Reads the two bundled example articles as documents, prints what each step did.
"""

import tempfile
from pathlib import Path

from datatrove.data import Document
from datatrove.executor import LocalPipelineExecutor

from unspin.integrations.datatrove import UnspinFilter, UnspinFormatter

HERE = Path(__file__).resolve().parent.parent


def read_examples(data, rank: int = 0, world_size: int = 1):
    for name in ("original_news.txt", "spun_news.txt"):
        yield Document(text=(HERE / name).read_text(encoding="utf-8"), id=name)


def show(data, rank: int = 0, world_size: int = 1):
    for doc in data:
        meta = doc.metadata
        print(f"{doc.id}: score {meta['unspin_score']:.3f}, spun {meta['unspin_spun']}, "
              f"{len(meta['unspin_spans'])} spans")
        yield doc


if __name__ == "__main__":
    logs = tempfile.mkdtemp(prefix="unspin-datatrove-")  # datatrove's run logs and stats
    # 1. Annotate only: every document kept, score and spans in doc.metadata.
    LocalPipelineExecutor(pipeline=[read_examples, UnspinFilter(annotate_only=True), show],
                          tasks=1, logging_dir=logs, skip_completed=False).run()
    # 2. Filter: spun documents dropped with reason "spun"; restore what is left.
    LocalPipelineExecutor(pipeline=[read_examples, UnspinFilter(), UnspinFormatter(), show],
                          tasks=1, logging_dir=logs, skip_completed=False).run()
