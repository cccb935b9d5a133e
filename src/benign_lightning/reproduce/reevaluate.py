"""A finished run evaluated again under another attack, without training it again: the paper's own
attack beside ours (Figure 2a: PGD-400 of 0.01; Figure 2b: PGD-20 of 0.01), or another reading of
the threat model (toy-MNIST's unclipped samples attacked inside [0, 1]). It reads only the results
contract (``config.yaml``, the evaluated checkpoint) and writes ``eval_<name>.json`` beside
``results.json``; a claim reads it as ``<name>/<key>`` (``reproduce.results.RunView``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from benign_lightning.plumbing.io import atomic_write_json


def attack_group(name: str) -> dict[str, Any]:
    """The ``attack`` config group ``name`` as the app composes it (e.g. ``paper_toy``)."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module="benign_lightning.conf", version_base="1.3"):
            cfg = compose(config_name="config", overrides=[f"attack={name}"])
        node = OmegaConf.to_container(cfg.attack, resolve=False)
    finally:
        GlobalHydra.instance().clear()
    return {k: v for k, v in node.items() if k not in ("eps", "eval_eps", "clamp", "batch_size")}


def reevaluate(run_dir: Path, name: str, attack: dict[str, Any]) -> dict[str, Any]:
    """Evaluate ``run_dir``'s model with its attack config updated by ``attack`` (its grid, budget
    and box kept unless ``attack`` sets them); write and return ``eval_<name>.json``. A run already
    evaluated under ``name`` is read, not evaluated again."""
    from benign_lightning.evaluation.evaluate import evaluate
    from benign_lightning.results import load_model
    from benign_lightning.run.builders import attack_spec, build_datamodule

    path = Path(run_dir) / f"eval_{name}.json"
    if path.exists():
        return json.loads(path.read_text())
    cfg = OmegaConf.load(Path(run_dir) / "config.yaml")
    node = OmegaConf.merge(cfg.attack, attack)
    datamodule = build_datamodule(cfg)
    datamodule.prepare_data()
    datamodule.setup("fit")
    clean = datamodule.eval_clean_train_labels
    metrics, _ = evaluate(
        load_model(run_dir), train=datamodule.eval_train, clean_train_labels=clean, test=datamodule.test,
        eps=float(cfg.eps), eval_eps=list(node.eval_eps), attack=attack_spec(node, datamodule.input_range),
        batch_size=int(node.batch_size), checks="none", seed=int(cfg.seed),
    )  # fmt: skip
    record = {
        "name": name,
        "attack_changes": attack,
        **{k: metrics[k] for k in ("attack", "natural_err", "adv_err", "adv_err_by_eps", "train_err")},
    }
    atomic_write_json(path, record)
    return record


def reevaluate_sweep(folder: Path, name: str, attack: dict[str, Any]) -> None:
    """``reevaluate`` every finished run of a sweep folder."""
    from benign_lightning.results import finished_results

    for job in sorted(p for p in Path(folder).iterdir() if p.is_dir()):
        results = finished_results(job)
        if results is not None and results.get("status") == "complete":
            reevaluate(job, name, attack)
