"""``python -m benign_lightning.reproduce --list`` | ``FIGURE... | all [--scale smoke|cpu|paper]
[--out DIR] [hydra overrides]``: run each figure's sweeps (finished jobs are skipped, so an
interrupted reproduction continues), aggregate them, check the claims and write the report to
``DIR/<figure>/<scale>/`` (``REPORT.md``, ``report.html``, ``claims.json``, ``summary.csv``).
Overrides such as ``hydra/launcher=slurm``, ``logger=wandb`` or ``trainer=ddp`` reach every job.
A figure whose data is not here is reported as not run, with what is missing and where it was
looked for; the others still run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benign_lightning.reproduce.entry import SCALES, Entry
from benign_lightning.reproduce.registry import ENTRIES, entry
from benign_lightning.reproduce.report import tally, write_report
from benign_lightning.reproduce.results import Results
from benign_lightning.reproduce.runner import run_sweeps, why_not_runnable


def list_entries() -> str:
    lines = []
    for e in ENTRIES:
        lines.append(f"{e.name:10s} {e.title}")
        lines.append(f"{'':10s} paper: {e.section}; needs: {e.needs}")
        lines.append(f"{'':10s} " + "; ".join(f"{s}: {e.cost.get(s, '?')}" for s in SCALES))
    return "\n".join(lines)


def reproduce(target: Entry, scale: str, overrides: list[str], out: Path, in_process: bool = False) -> list:
    """Run, aggregate, check and report one figure at one scale; return its verdicts."""
    from benign_lightning.analysis.sweeps import aggregate

    not_run = why_not_runnable(target, scale, overrides)
    results = None
    if not_run is None:
        folders = run_sweeps(target, scale, overrides, out, in_process)
        for name, folder in folders.items():
            if folder.is_dir() and any(folder.iterdir()):
                try:
                    aggregate(folder, list(target.plot_by) or None)
                except FileNotFoundError as e:  # every job failed before its folder: its claims say not run
                    print(f"[{target.name} {scale}] sweep {name!r}: {e}", file=sys.stderr)
        if target.post is not None:
            try:
                target.post(folders)
            except (FileNotFoundError, LookupError, ValueError) as e:  # its claims then say not run
                print(f"[{target.name} {scale}] the step after the sweeps failed: {e}", file=sys.stderr)
        results = Results(folders)
    report_dir, verdicts = write_report(target, scale, out, overrides, results, not_run)
    print(f"[{target.name} {scale}] {tally(verdicts)}: {report_dir / 'REPORT.md'}")
    for v in verdicts:
        print(f"  {v.id}: {v.verdict}{' (' + v.ours + ')' if v.ours else ''}")
    if any(o.startswith("logger=wandb") for o in overrides):
        _log_artifact(target, scale, report_dir)
    return verdicts


def _log_artifact(target: Entry, scale: str, report_dir: Path) -> None:
    """With ``logger=wandb`` the report is a W&B artifact too (the mode follows WANDB_MODE): its
    files, not the run folders beside them."""
    import wandb

    run = wandb.init(project="benign_lightning", job_type="reproduce", name=f"{target.name}-{scale}",
                     dir=str(report_dir / "runs"))  # fmt: skip
    artifact = wandb.Artifact(f"reproduction-{target.name.replace('.', '_')}-{scale}", type="report")
    for path in sorted(report_dir.iterdir()):
        if path.is_file():
            artifact.add_file(str(path), name=path.name)
    run.log_artifact(artifact)
    run.finish()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--list", action="store_true", help="every figure and table, and what it needs")
    parser.add_argument("--scale", choices=SCALES, default="cpu")
    parser.add_argument("--out", type=Path, default=Path("reproductions"))
    parser.add_argument("--in-process", action="store_true",
                        help="run the sweeps in this process, not one process each (saves ~5 s of start-up "
                             "a sweep: for the smoke scale)")  # fmt: skip
    parser.add_argument("items", nargs="*", help="figure names (see --list) or all, then hydra overrides")
    args = parser.parse_intermixed_args(argv)  # figures and overrides may follow the options
    if args.list:
        print(list_entries())
        return 0
    names = [a for a in args.items if "=" not in a]
    overrides = [a for a in args.items if "=" in a]
    if not names:
        parser.error("name a figure (see --list) or all")
    try:
        targets = list(ENTRIES) if names == ["all"] else [entry(n) for n in names]
    except KeyError as e:
        print(f"error: {e.args[0]}", file=sys.stderr)
        return 2
    for target in targets:
        reproduce(target, args.scale, overrides, args.out, args.in_process)
    return 0


if __name__ == "__main__":
    sys.exit(main())
