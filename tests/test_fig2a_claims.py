"""scripts/fig2a_claims.py decides each claim from the numbers: a sweep where the paper's picture
holds passes all three; one where σ² = 0.1 fits the noise fails the first."""

from __future__ import annotations

import importlib.util
import json

import yaml
from conftest import REPO


def _load():
    spec = importlib.util.spec_from_file_location("fig2a_claims", REPO / "scripts" / "fig2a_claims.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sweep(root, rows):
    for k, (sigma2, eta, train, test, adv) in enumerate(rows):
        job = root / f"{k}_job"
        job.mkdir(parents=True)
        (job / "config.yaml").write_text(yaml.safe_dump({"data": {"sigma2": sigma2}}))
        (job / "results.json").write_text(json.dumps({"eta": eta, "train_err": train, "natural_err": test,
                                                      "adv_err": adv}))  # fmt: skip
    return root


PAPER_LIKE = [(0.1, 0.0, 0.0, 0.0, 0.02), (0.1, 0.2, 0.19, 0.01, 0.03),
              (0.3, 0.0, 0.0, 0.0, 0.01), (0.3, 0.05, 0.05, 0.0, 0.02), (0.3, 0.2, 0.1, 0.03, 0.6),
              (0.5, 0.0, 0.0, 0.0, 0.05), (0.5, 0.2, 0.0, 0.1, 0.9)]  # fmt: skip


def test_a_paper_like_sweep_holds_and_a_memorising_one_does_not(tmp_path):
    claims = _load()

    def verdicts_of(rows, name):
        return {v["claim"]: v["holds"] for v in claims.check(claims.table(_sweep(tmp_path / name, rows)))}

    verdicts = verdicts_of(PAPER_LIKE, "a")
    assert verdicts == {"sigma2=0.1": True, "sigma2=0.3": True, "sigma2=0.5": True}
    memorising = [r if r[:2] != (0.1, 0.2) else (0.1, 0.2, 0.0, 0.13, 1.0) for r in PAPER_LIKE]
    verdicts = verdicts_of(memorising, "b")
    assert verdicts["sigma2=0.1"] is False and verdicts["sigma2=0.5"] is True
