"""Aggregate a sweep: ``python -m benign_lightning.aggregate SWEEP_DIR [--by KEY]``.

Reads every job folder's ``results.json`` and Hydra overrides and writes, into ``SWEEP_DIR``:

- ``summary.csv``: one row per job (finished, failed or unfinished), the swept keys as columns,
  then the status and the metrics (``adv_err@<eps>`` for each ε of the grid);
- ``err_vs_eta.png`` (Figure 2a style): adversarial, natural test and training error against η, one line per
  value of the other swept keys (σ², architecture, method, ...), mean over seeds with a 95%
  confidence band;
- ``adv_err_vs_eps.png`` (Figures 2b and 9b style): adversarial error against ε, one line per η,
  method or label set, mean over seeds with a 95% band.

Jobs that failed, did not finish, or were never started (the sweep in ``multirun.yaml`` names more
jobs than there are folders) are reported, not dropped.
"""

from __future__ import annotations

import argparse
import sys

from benign_lightning.analysis.sweeps import aggregate

__all__ = ["aggregate", "main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("sweep_dir", help="a multirun folder (or any folder of run folders)")
    parser.add_argument("--by", nargs="*", help="keys whose values make the lines of the figures")
    parser.add_argument("--x", default="eta", help="the swept key on the x axis of err_vs_<x>.png")
    args = parser.parse_args(argv)
    try:
        found = aggregate(args.sweep_dir, args.by, args.x)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{found['jobs']} job folders, {found['complete']} complete (swept: {', '.join(found['swept'])})")
    if found["never_started"]:
        print(f"MISSING: the sweep names {found['expected']} jobs; {found['never_started']} never started")
    for name, error in found["failed"].items():
        print(f"FAILED: {name}: {error}")
    for name in found["unfinished"]:
        print(f"UNFINISHED (no results.json): {name}")
    print(f"summary: {found['summary']}")
    for figure in found["figures"]:
        print(f"figure: {figure}")
    return 0 if found["complete"] == found["jobs"] and not found["never_started"] else 1


if __name__ == "__main__":
    sys.exit(main())
