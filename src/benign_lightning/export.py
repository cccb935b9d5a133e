"""Hand a trained model to RobustBench and AutoAttack users, who load it with no code of ours.

    python -m benign_lightning.export RUN_DIR --to robustbench OUT_DIR

writes into ``OUT_DIR``:

- ``model.pt``: the plain ``state_dict`` of the ``nn.Module`` (``torch.load(path, weights_only=True)``
  reads it); the module takes [0, 1] inputs, its normalisation inside, and returns logits;
- ``model.pt2``: the same module as a ``torch.export`` program (any batch size), which
  ``torch.export.load("model.pt2").module()`` runs without this package: RobustBench's and
  AutoAttack's ``model(x)`` and its input gradients are all they need (TorchScript, the older way,
  is deprecated in torch 2.9+);
- ``model_card.json`` and ``MODEL_CARD.md``: the architecture's name and arguments (what
  ``benign_lightning.models.build_model`` builds), the threat model, ε, the clean and robust
  accuracy with the attack that measured them, the training recipe, the run's whole config and
  the files' SHA-256.

Only the results contract and the evaluated checkpoint are read (``load_model_and_spec``).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import yaml

from benign_lightning.plumbing.io import atomic_write, atomic_write_json, atomic_write_text
from benign_lightning.results import NoNetwork, evaluated_checkpoint, load_model_and_spec

FORMATS = ("robustbench",)
THREAT_MODELS = {"linf": "Linf", "l2": "L2"}  # RobustBench's names


# The program is in eval mode already, but torch.export's module refuses .eval() and .train(),
# which attack libraries call (torchattacks does; AutoAttack does not): the card's loading code
# makes them no-ops. (tests/test_export.py runs this text.)
EVAL_SHIM = (
    "# exported in eval mode; make .eval()/.train(), which torch.export's module refuses, no-ops:",
    "model.eval = model.train = lambda mode=True: model",
    "model.training = False",
)


class ExportError(ValueError):
    """A run folder that cannot be exported, and why."""


def _results(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "results.json"
    if not path.exists():
        raise ExportError(f"{path} does not exist: is {run_dir} a finished benign_lightning run?")
    results = json.loads(path.read_text())
    if results.get("status") == "ensemble":
        raise ExportError(f"{run_dir} is an ensemble job: export one member, e.g. {run_dir / 'member_0'}")
    if results.get("status") != "complete":
        raise ExportError(f"{run_dir} did not finish (status {results.get('status')!r}): nothing to export")
    return results


def _serialised(save: Callable[[io.BytesIO], None]) -> bytes:
    buffer = io.BytesIO()
    save(buffer)
    return buffer.getvalue()


def _write_hashed(path: Path, data: bytes) -> str:
    """Write ``data`` atomically; return its SHA-256."""
    atomic_write(path, lambda f: f.write(data))
    return hashlib.sha256(data).hexdigest()


def _program(model: torch.nn.Module, in_shape: list[int]) -> bytes:
    """``model`` (in eval mode) as a saved ``torch.export`` program with a dynamic batch dimension."""
    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(model.eval(), (torch.rand(2, *in_shape),), dynamic_shapes=({0: batch},))
    return _serialised(lambda f: torch.export.save(program, f))


def model_card(run_dir: Path, results: dict[str, Any], spec: dict[str, Any], ckpt: Path) -> dict[str, Any]:
    """What a user needs to know to trust and load the model, from the run's results and config."""
    config_path = run_dir / "config.yaml"
    config = yaml.safe_load(config_path.read_text()) if config_path.exists() else None
    attack = results.get("attack") or {}
    norm = str(attack.get("norm", (config or {}).get("attack", {}).get("norm", "linf")))
    train = (config or {}).get("train_attack", {})
    return {
        "name": f"{results['name']}_{results['arch']}_{results['method']}_eta{results['eta']:g}"
                f"_eps{results['eps']:g}_seed{results['seed']}",
        "architecture": {"name": spec["name"], "arguments": {k: v for k, v in spec.items() if k != "name"}},
        "inputs": "images in [0, 1], N x C x H x W; normalisation is the model's first layer",
        "dataset": results["data"],
        "threat_model": THREAT_MODELS.get(norm, norm),
        "eps": results["eps"],
        "clean_accuracy": 1 - results["natural_err"],
        "robust_accuracy": 1 - results["adv_err"],
        "n_test": results.get("n_test"),
        "attack": attack,  # what measured robust_accuracy (results.json["attack"])
        "training": {
            "method": results["method"],
            "epochs": results["epochs"],
            "label_noise": {"eta": results["eta"], "mode": results.get("noise_mode")},
            "batch_size": results.get("batch_size"),
            "optimizer": (config or {}).get("optimizer"),
            "scheduler": (config or {}).get("scheduler"),
            "train_attack": train if results["method"] in ("at", "trades") else None,
            "seed": results["seed"],
        },
        "source_run": str(run_dir.resolve()),
        "evaluated_checkpoint": str(ckpt.relative_to(run_dir)),
        "config": config,
    }


def _markdown(card: dict[str, Any]) -> str:
    arch = card["architecture"]
    args = ", ".join(f"{k}={v!r}" for k, v in arch["arguments"].items())
    attack = card["attack"]
    attack_text = ", ".join(f"{k}={v}" for k, v in attack.items()) if attack else "not recorded"
    return "\n".join([
        f"# {card['name']}",
        "",
        "| | |",
        "|---|---|",
        f"| dataset | {card['dataset']} ({card['n_test']} test points evaluated) |",
        f"| threat model | {card['threat_model']}, ε = {card['eps']:g} |",
        f"| clean accuracy | {card['clean_accuracy']:.4f} |",
        f"| robust accuracy | {card['robust_accuracy']:.4f} |",
        f"| attack | {attack_text} |",
        f"| training | {card['training']['method']}, {card['training']['epochs']} epochs, label noise "
        f"η = {card['training']['label_noise']['eta']:g} ({card['training']['label_noise']['mode']}) |",
        f"| architecture | `{arch['name']}({args})` |",
        "",
        "The model takes images in [0, 1] (its normalisation is its first layer) and returns logits.",
        "",
        "```python",
        "import torch",
        'model = torch.export.load("model.pt2").module()               # no other code needed',
        *EVAL_SHIM,
        "# or the plain weights into the same architecture:",
        "from benign_lightning.models import build_model",
        f"model = build_model({arch['name']!r}, **{arch['arguments']!r})",
        'model.load_state_dict(torch.load("model.pt", weights_only=True))',
        "```",
        "",
        "The run's whole config is in `model_card.json` (`config`), with the files' SHA-256 (`files`).",
        "",
    ])


def export(run_dir: str | Path, out_dir: str | Path, to: str = "robustbench") -> dict[str, Any]:
    """Export ``run_dir``'s evaluated model into ``out_dir``; return the model card."""
    if to not in FORMATS:
        raise ExportError(f"--to {to}: must be one of {', '.join(FORMATS)}")
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    results = _results(run_dir)
    model, spec = load_model_and_spec(run_dir)
    card = model_card(run_dir, results, spec, evaluated_checkpoint(run_dir))
    # Both serialised before either is written: a model torch.export cannot take leaves no half export.
    program = _program(model, list(spec["in_shape"]))
    weights = _serialised(lambda f: torch.save(model.state_dict(), f))
    card["files"] = {"model.pt": _write_hashed(out_dir / "model.pt", weights),
                     "model.pt2": _write_hashed(out_dir / "model.pt2", program)}  # fmt: skip
    atomic_write_json(out_dir / "model_card.json", card)
    atomic_write_text(out_dir / "MODEL_CARD.md", _markdown(card))
    return card


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run_dir", type=Path, help="a finished run folder (results.json, checkpoints/)")
    parser.add_argument("out_dir", type=Path, help="where model.pt, model.pt2 and the model card go")
    parser.add_argument("--to", default="robustbench", choices=FORMATS, help="the format (robustbench)")
    args = parser.parse_intermixed_args(argv)  # RUN --to robustbench OUT, as the docs write it
    try:
        card = export(args.run_dir, args.out_dir, args.to)
    except (ExportError, NoNetwork, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{card['name']}: clean {card['clean_accuracy']:.4f}, robust {card['robust_accuracy']:.4f} "
          f"({card['threat_model']}, eps {card['eps']:g}) -> {args.out_dir}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
