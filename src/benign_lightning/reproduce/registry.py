"""Every figure and table ``reproduce`` knows, in the paper's order: §3.1, §3.2, the appendix, the
theory, then beyond the paper (Wang et al. 2024, noise detection, robust overfitting, AT on random
labels).

Each lives in its own file of ``figures/``: its paper section, the sweeps per scale and the claims,
each with the paper's number or words and a check computed from the results (the types are in
``entry``). Adding a figure is adding one file and its line in ``ENTRIES``. A sweep is the command
line of the normal app (``python -m benign_lightning <args>``), so launcher, logger and trainer
overrides reach every job. Scales: ``smoke`` (seconds to a minute on a CPU, for the tests), ``cpu``
(this machine, minutes to an hour), ``paper`` (the paper's settings; a GPU cluster). A check returns
``(ours, holds)``; one that finds no runs for what it needs is "not run".

The thresholds that turn the paper's words into checks are written in each claim's ``paper`` text.
"""

from __future__ import annotations

from benign_lightning.reproduce.entry import Entry
from benign_lightning.reproduce.figures.detection import DETECTION
from benign_lightning.reproduce.figures.fig1 import FIG1
from benign_lightning.reproduce.figures.fig2a import FIG2A
from benign_lightning.reproduce.figures.fig2b import FIG2B
from benign_lightning.reproduce.figures.fig2cde import FIG2CDE
from benign_lightning.reproduce.figures.fig3 import FIG3
from benign_lightning.reproduce.figures.fig4 import FIG4
from benign_lightning.reproduce.figures.fig5 import FIG5
from benign_lightning.reproduce.figures.fig7 import FIG7
from benign_lightning.reproduce.figures.fig8 import FIG8
from benign_lightning.reproduce.figures.fig9a import FIG9A
from benign_lightning.reproduce.figures.fig9b import FIG9B
from benign_lightning.reproduce.figures.fig9c import FIG9C
from benign_lightning.reproduce.figures.memorization_at import MEMORIZATION_AT
from benign_lightning.reproduce.figures.robust_overfitting import ROBUST_OVERFITTING
from benign_lightning.reproduce.figures.sec32 import SEC32
from benign_lightning.reproduce.figures.table1 import TABLE1
from benign_lightning.reproduce.figures.thm2 import THM2
from benign_lightning.reproduce.figures.wang2024 import WANG2024

ENTRIES: tuple[Entry, ...] = (
    FIG1, FIG2A, FIG2B, FIG2CDE, FIG3, SEC32, FIG4, FIG5, TABLE1, FIG7, FIG8, FIG9A, FIG9B, FIG9C, THM2,
    WANG2024, DETECTION, ROBUST_OVERFITTING, MEMORIZATION_AT,
)  # fmt: skip


def entry(name: str) -> Entry:
    for e in ENTRIES:
        if e.name == name:
            return e
    raise KeyError(f"{name!r} is not a known figure; known: {', '.join(e.name for e in ENTRIES)}")
