"""Memorization and influence estimates (Zhang & Feldman 2020), and the paper's Figure 5 (§3.2).

K models, each trained on its own random subset of one training set (same labels, same noise):

    mem(i)     = P[h(x_i) = y_i | i in the subset] − P[h(x_i) = y_i | i held out]
    infl(i, j) = P[h(x'_j) = y'_j | i in the subset] − P[h(x'_j) = y'_j | i held out]

for a training point i (y_i its training label, noisy or not) and a test point j, each probability
the fraction of the K models on that side. An ensemble job of ``+experiment=memorization_*``
(``data.holdout=0.3`` with ``data.holdout_seed=${seed}``: member k holds out its own 30%) has
everything in its members' run folders: ``noise.npz`` (which rows were held out), and
``predictions.npz`` (``train_pred`` on the rows trained on, ``heldout_pred`` on the others,
``test_pred`` and ``test_labels``). Only the results contract is read.

    python -m benign_lightning.influence JOB_DIR [--robust RUN_DIR] [--natural RUN_DIR]

writes ``JOB_DIR/memorization_scores.npz``, ``JOB_DIR/memorization_summary.json`` and, with a
robust run on the same data and noise, ``JOB_DIR/figures/figure5.png``: (a) the fraction of
training points with self-influence > s against s, for all points and for those the robust run
leaves unfit (and the natural run fits, with ``--natural``, as the paper's); (b) the same for the
largest influence of any training point on each test point, for all test points and for those the
robust run misclassifies.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benign_lightning.analysis.influence import write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "job_dir", type=Path, help="an ensemble job of +experiment=memorization_* (or a folder of runs)"
    )
    parser.add_argument("--robust", type=Path, help="a run folder of AT or TRADES on the same data and noise")
    parser.add_argument(
        "--natural", type=Path, help="a natural run on the same data (Figure 5a: its fit points)"
    )
    args = parser.parse_args(argv)
    try:
        summary = write(args.job_dir, args.robust, args.natural)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
