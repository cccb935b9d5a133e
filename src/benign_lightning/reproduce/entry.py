"""What a figure of ``reproduce`` is: its sweeps per scale (``Sweep``), its claims (``Claim``), the
whole (``Entry``). Each figure is one file of ``reproduce/figures``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benign_lightning.reproduce.results import Results

SCALES = ("smoke", "cpu", "paper")
Check = Callable[[Results], tuple[str, bool]]


@dataclass(frozen=True)
class Sweep:
    """One call of the app: ``name`` is its folder; ``args`` its command line (``-m`` and sweeps)."""

    name: str
    args: tuple[str, ...]


@dataclass(frozen=True)
class Claim:
    """One claim of the paper: where it is said, what it says (with the threshold used), the check.

    ``per_seed``: the check is judged on each seed's runs on its own, and the verdict says on how
    many it holds ("holds on k of n seeds"). ``scales``: the scales whose runs are in the regime the
    claim speaks of (None: all); at the others the verdict is "not judged" with ``regime``, the
    reason."""

    id: str
    source: str
    paper: str
    check: Check
    per_seed: bool = True
    scales: tuple[str, ...] | None = None
    regime: str = ""


@dataclass(frozen=True)
class Entry:
    name: str
    title: str
    section: str
    sweeps: dict[str, tuple[Sweep, ...]]
    claims: tuple[Claim, ...]
    cost: dict[str, str]  # per scale: how long, on what
    needs: str = "nothing to download"
    plot_by: tuple[str, ...] = ()  # the keys aggregate draws one line per value of
    x: str = "eta"  # aggregate's x axis for err_vs_<x>
    paper_numbers: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (what, the paper's value)
    post: Callable[[dict[str, Path]], None] | None = None  # a step after the sweeps (sweep → folder)
    notes: tuple[str, ...] = ()  # what the report says of our runs against the paper's (substitutions)
    runs_of: str | None = None  # another entry whose sweeps (and run folders) this one reads
    run_figures: tuple[str, ...] = ()  # figures inside the sweeps' folders the report shows (globs)
