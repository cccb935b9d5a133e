"""Noise detection as a benchmark: every detector of ``analysis/detectors.py`` on one noise mask, scored
against the mask's known mislabelled points.

    python -m benign_lightning.detect DIR [DIR ...] [--out OUT]

reads every finished run under the folders (single runs, sweeps, ensemble jobs' members), groups
them by their noise mask (``noise.npz``: the same rows, clean and noisy labels), and for each mask
builds the detectors its runs allow: robust training's errors (each AT/TRADES run), learning time,
forgetting events and small loss (each natural run with a memorization record), and confident
learning (each complete set of K cross-validation folds). It writes to OUT (default:
``DIR/detection``):

- ``detection.csv``: per mask and detector, precision, recall and F1 of its flagged set, AUROC and
  average precision of its score, how many points it flags, and the wall time of its runs;
- ``detection.md``: the same as markdown tables, one per mask;
- ``pr_<setting>.png``: the detectors' precision-recall curves on that mask, each detector's own
  operating point marked.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benign_lightning.analysis.noise_detection import detect, detection_metrics

__all__ = ["detect", "detection_metrics", "main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folders", type=Path, nargs="+", help="run, sweep or ensemble-job folders")
    parser.add_argument("--out", type=Path, help="where the table and figures go (default: FIRST/detection)")
    args = parser.parse_args(argv)
    out = args.out or args.folders[0] / "detection"
    try:
        detect(args.folders, out)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print((out / "detection.md").read_text())
    print(f"written: {out / 'detection.csv'}, {out / 'detection.md'}, {out}/pr_*.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
