"""The speed bars' yardstick: datatrove's GopherQualityFilter on the same texts.

Issue 4 set its bar of 1.5 MB/s per core where "datatrove's GopherQualityFilter ran at about
0.2 MB/s per core on this machine"; the VMs these benchmarks run on differ by about 2x in
speed per core from session to session (and drift within minutes). A speed divided by
Gopher's on the same texts in the same minute reads a bar independently of the VM: a bar of
B MB/s asks for B / 0.2 times Gopher's speed.
"""

from __future__ import annotations

import time

YARDSTICK_MB_PER_S = 0.2  # Gopher's speed on the machine the bars were written for


def gopher_mb_per_s(texts: list[str]) -> float | None:
    """GopherQualityFilter's MB (UTF-8) per CPU second over ``texts``, in this process
    (spaCy loaded and warmed first, as a pipeline would); None without datatrove."""
    try:
        from datatrove.data import Document
        from datatrove.pipeline.filters import GopherQualityFilter
    except ImportError:
        return None
    if not texts:
        return None
    docs = [Document(text=t, id=str(k)) for k, t in enumerate(texts)]
    gf = GopherQualityFilter()
    gf.filter(Document(text=texts[0], id="warm"))
    t = time.process_time()
    for d in docs:
        gf.filter(d)
    seconds = time.process_time() - t
    return sum(len(x.encode("utf-8")) for x in texts) / 1e6 / seconds if seconds else None


def times_yardstick(mb_per_s: float, gopher: float) -> float:
    """A speed as a multiple of Gopher's."""
    return mb_per_s / gopher


def bar_multiple(bar_mb_per_s: float) -> float:
    """The multiple of Gopher's speed that a bar of ``bar_mb_per_s`` asks for."""
    return bar_mb_per_s / YARDSTICK_MB_PER_S
