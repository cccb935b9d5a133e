"""A second attack on a wang2024 sweep: the robust test error under the signal-direction attack.

    python scripts/wang2024_check.py SWEEP_DIR [--json out.json]

For x = y·μ + ξ the perturbation −α·y·μ/‖μ‖ (and every point on the way to it) is the attack a
linear rule aligned with μ fears most. It needs no gradient, so it bounds from below what PGD must
find: PGD's error (the run's ``adv_err``) below it would be an attack failure, and far above it means
the network is vulnerable in directions other than the signal (it has learned features of ξ).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

import benign_lightning  # noqa: F401  (registers the ${times:...} resolver the configs use)
from benign_lightning.analysis.sweeps import read_jobs
from benign_lightning.data import Split
from benign_lightning.evaluation.evaluate import predict
from benign_lightning.results import load_model

POINTS_ON_THE_SEGMENT = 21


@torch.no_grad()
def signal_direction_error(model: torch.nn.Module, dm, alpha: float) -> float:
    """The fraction of test points misclassified somewhere on the segment x → x − α·y·μ̂."""
    mu_hat = torch.from_numpy(dm.mu / np.linalg.norm(dm.mu)).float()
    sign = (2 * dm.test.y - 1).float()[:, None]
    wrong = torch.zeros(len(dm.test), dtype=torch.bool)
    for scale in np.linspace(0.0, 1.0, POINTS_ON_THE_SEGMENT):
        moved = Split(dm.test.x - float(scale) * alpha * sign * mu_hat, dm.test.y)
        wrong |= predict(model, moved, batch_size=len(dm.test)) != dm.test.y
    return float(wrong.double().mean())


def main(argv: list[str] | None = None) -> int:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("sweep_dir")
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args(argv)
    rows = []
    for job in read_jobs(Path(args.sweep_dir)):
        if job.status != "complete":
            continue
        cfg = OmegaConf.load(job.folder / "config.yaml")
        dm = instantiate(cfg.data)
        dm.setup()
        alpha = float(cfg.eps)
        rows.append({
            "alpha_frac": float(cfg.alpha_frac), "alpha": alpha, "natural_err": job.results["natural_err"],
            "pgd_adv_err": job.results["adv_err"], "signal_direction_adv_err": signal_direction_error(
                load_model(job.folder).eval(), dm, alpha),
            "final_robust_train_loss": job.results["final_train_loss"], "train_err": job.results["train_err"],
        })  # fmt: skip
    rows.sort(key=lambda r: r["alpha_frac"])
    header = ("α / ‖μ‖", "natural", "PGD robust", "signal-direction robust", "robust train loss",
              "train err")
    print("| " + " | ".join(header) + " |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        cells = [f"{r['alpha_frac']:g}", *(f"{r[k]:.3f}" for k in ("natural_err", "pgd_adv_err",
                 "signal_direction_adv_err")), f"{r['final_robust_train_loss']:.4f}", f"{r['train_err']:.3f}"]
        print("| " + " | ".join(cells) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
