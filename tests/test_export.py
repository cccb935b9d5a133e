"""``python -m benign_lightning.export RUN --to robustbench OUT``: what a RobustBench or AutoAttack
user loads gives the run's own logits, and AutoAttack runs on it."""

from __future__ import annotations

import json

import torch
from conftest import QUIET

from benign_lightning.export import EVAL_SHIM, main
from benign_lightning.models import build_model
from benign_lightning.results import load_model

MNIST_RUN = [*QUIET, "+experiment=mnist_robust_noise", "method=at", "eps=0.1", "data.train_subset=200",
             "data.test_subset=64", "trainer.max_epochs=1", "train_attack.steps=2",
             "train_attack.eps_warmup_epochs=0",
             "attack.steps=3", "attack.restarts=1", "attack.checks=none", "trainer.accelerator=cpu",
             "memorization=false"]  # fmt: skip


def test_export_for_robustbench(tmp_path, main_in_process, mnist_root, monkeypatch):
    monkeypatch.setenv("BENIGN_DATA_DIR", str(mnist_root))
    code, _, stderr = main_in_process(*MNIST_RUN, "hydra.run.dir=run")
    assert code == 0, stderr[-3000:]
    assert main([str(tmp_path / "run"), "--to", "robustbench", str(tmp_path / "out")]) == 0
    out = tmp_path / "out"
    card = json.loads((out / "model_card.json").read_text())
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert card["threat_model"] == "Linf" and card["eps"] == 0.1
    assert card["robust_accuracy"] == 1 - results["adv_err"] and card["attack"] == results["attack"]
    assert card["training"]["method"] == "at"
    assert card["config"]["method"]["_target_"].endswith("AdversarialTraining")
    assert "| threat model | Linf, ε = 0.1 |" in (out / "MODEL_CARD.md").read_text()

    # The plain weights (weights_only) in a freshly built module: the run's logits, bit for bit.
    x = torch.rand(16, 1, 28, 28)
    ours = load_model(tmp_path / "run")(x)
    fresh = build_model(card["architecture"]["name"], **card["architecture"]["arguments"]).eval()
    fresh.load_state_dict(torch.load(out / "model.pt", weights_only=True))
    assert torch.equal(fresh(x), ours)
    # The torch.export program needs none of our code.
    program = torch.export.load(out / "model.pt2").module()
    torch.testing.assert_close(program(x), ours)

    # torchattacks calls .eval(), which torch.export's module refuses: the card's own lines make it work.
    import torchattacks

    exec("\n".join(EVAL_SHIM), {"model": program})
    x_pgd = torchattacks.PGD(program, eps=0.3, alpha=0.1, steps=5)(x, ours.argmax(1))
    assert (x_pgd - x).abs().max() <= 0.3 + 1e-6 and (program(x_pgd).argmax(1) != ours.argmax(1)).any()
    assert "\n".join(EVAL_SHIM) in (out / "MODEL_CARD.md").read_text()

    # AutoAttack, as its users call it, on the exported program.
    import pyautoattack

    y = ours.argmax(1)
    adversary = pyautoattack.AutoAttack(program, norm="Linf", eps=0.3, version="custom", attacks=["apgd-ce"],
                                        seed=0, device="cpu")  # fmt: skip
    adversary.apgd.n_iter = 10  # the test's cost; the standard 100 change nothing here but time
    x_adv, _ = adversary.run_standard_evaluation(x, y, batch_size=16)
    assert (x_adv - x).abs().max() <= 0.3 + 1e-6
    assert (program(x_adv).argmax(1) != y).any()  # at ε = 0.3 a 1-epoch model is broken


def test_export_refuses_what_is_not_a_finished_run(tmp_path, capsys):
    assert main([str(tmp_path), "--to", "robustbench", str(tmp_path / "out")]) == 2
    assert "results.json does not exist" in capsys.readouterr().err
    (tmp_path / "results.json").write_text(json.dumps({"status": "failed"}))
    assert main([str(tmp_path), str(tmp_path / "out")]) == 2
    assert "did not finish (status 'failed')" in capsys.readouterr().err
    (tmp_path / "results.json").write_text(json.dumps({"status": "complete", "method": "parity",
                                                       "evaluated_checkpoint": None}))  # fmt: skip
    assert main([str(tmp_path), str(tmp_path / "out")]) == 2
    assert "is a closed-form classifier (parity), not a network" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
