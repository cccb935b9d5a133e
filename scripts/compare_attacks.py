"""One trained run's adversarial error under several evaluations, side by side, with wall times.

    python scripts/compare_attacks.py RUN_DIR [--n 200] [--eps 0.1 0.2 0.3] [--json out.json]
        [--attacks paper_mnist linf linf_strong autoattack]

Each evaluation attacks the same first ``n`` test points of the run (its own ``config.yaml`` gives
the data) over the ε grid, in increasing ε, and reports the monotone envelope (what
``adv_err_by_eps`` reports) and, for PGD, the raw per-ε error. The model is the one the run
evaluated (``load_model``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from benign_lightning.analysis.compare import training_datamodule
from benign_lightning.attacks.spec import AttackSpec
from benign_lightning.evaluation.evaluate import adversarial_grid, error_rate, predict
from benign_lightning.results import load_model

# name -> (what it is, the spec); the PGD ones are the configs' presets and defaults.
EVALUATIONS = {
    "paper_mnist": ("the paper's PGD (App. D.1): 20 steps of 0.01 from x", dict(
        name="pgd", norm="linf", steps=20, step_size=0.01, random_start=False)),
    "linf": ("attack=linf (mnist_noise's): PGD-50, 2.5 eps/50, random start", dict(
        name="pgd", norm="linf", steps=50, random_start=True)),
    "linf_strong": ("attack=linf_strong (mnist_robust_noise's): PGD-100 margin, 5 restarts", dict(
        name="pgd", norm="linf", steps=100, random_start=True, restarts=5, loss="margin")),
    "autoattack": ("AutoAttack standard (pyautoattack)", dict(name="autoattack", norm="linf")),
}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir", type=Path)
    p.add_argument("--n", type=int, default=200, help="test points (the first n of the run's test split)")
    p.add_argument("--eps", type=float, nargs="+", default=[0.1, 0.2, 0.3])
    p.add_argument("--attacks", nargs="+", default=list(EVALUATIONS), choices=list(EVALUATIONS))
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)

    model = load_model(args.run_dir)
    test = training_datamodule(args.run_dir).test
    points = test[slice(0, min(args.n, len(test)))]
    natural_correct = predict(model, points, 1000) == points.y
    rows = {}
    for name in args.attacks:
        about, spec = EVALUATIONS[name]
        attack = AttackSpec(**spec, batch_size=250)
        start = time.perf_counter()
        envelope, raw = adversarial_grid(
            model, points, grid=args.eps, attack=attack, natural_correct=natural_correct,
            envelope_only=attack.name == "autoattack", seed=0,
        )  # fmt: skip
        wall = time.perf_counter() - start
        rows[name] = {
            "about": about, "attack": attack.describe(), "wall_s": round(wall, 1),
            "envelope": {f"{e:g}": error_rate(c) for e, c in envelope.items()},
            "raw": {f"{e:g}": error_rate(c) for e, c in raw.items()} if raw else None,
        }  # fmt: skip
        grid = "  ".join(f"{e:g}: {error_rate(c):.3f}" for e, c in envelope.items())
        print(f"{name:18s} {grid}  ({wall:.1f} s)  {about}", flush=True)
    out = {
        "run_dir": str(args.run_dir), "n": len(points), "natural_err": error_rate(natural_correct),
        "threads": torch.get_num_threads(), "evaluations": rows,
    }  # fmt: skip
    print(f"natural error on these {len(points)} points: {out['natural_err']:.3f}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
