"""Fine2Coarse (App. C.3) and Restricted ImageNet: summed logits, the Table 2 classes, tiny JPEG
trees, and both arms of both experiments through the CLI."""

from __future__ import annotations

import pytest
import torch
from conftest import QUIET, make_cifar, make_imagenet_tree, read_json, run_cli

from benign_lightning.attacks import pgd
from benign_lightning.data import RestrictedImageNetDataModule
from benign_lightning.data.cifar import CIFAR100_COARSE_OF_FINE
from benign_lightning.data.imagenet import FINE2COARSE_TABLE, imagenet1k_classes, variant_classes
from benign_lightning.models import SumToCoarse, build_model
from benign_lightning.plumbing.errors import ConfigError


def test_coarse_logits_are_sums_of_fine_logits_and_attackable():
    model = build_model("mlp", 100, (3, 32, 32), coarse_of_fine=CIFAR100_COARSE_OF_FINE, width=64, depth=1)
    assert isinstance(model, SumToCoarse)
    x = torch.rand(8, 3, 32, 32)
    fine, coarse = model.fine_logits(x), model(x)
    mapping = torch.tensor(CIFAR100_COARSE_OF_FINE)
    expected = torch.stack([fine[:, mapping == c].sum(1) for c in range(20)], 1)
    torch.testing.assert_close(coarse, expected)
    # The coarse prediction is the superclass with the largest summed logit (not the argmax fine
    # class's superclass), and PGD attacks it like any model.
    y = coarse.argmax(1)
    x_adv = pgd(model, x, y, eps=0.5, steps=10, step_size=0.1)
    assert (model(x_adv).argmax(1) != y).any()


def test_the_max_rule_answers_with_the_predicted_fine_classs_group():
    """App. C.3's lattice rule ("all αᵢs as 1 and all βᵢs as 0"): the coarse prediction is the group
    of the arg-max fine class, where the sum can overrule it. Fine classes 0, 1 → coarse 0; 2, 3 →
    coarse 1. Fine logits (5, -9, 3, 3): the predicted ball is 0 (coarse 0); the sums are (-4, 6)."""
    fine_net = torch.nn.Linear(2, 4, bias=True)
    with torch.no_grad():
        fine_net.weight.zero_()
        fine_net.bias.copy_(torch.tensor([5.0, -9.0, 3.0, 3.0]))
    x = torch.zeros(1, 2)
    by_sum, by_max = SumToCoarse(fine_net, [0, 0, 1, 1], "sum"), SumToCoarse(fine_net, [0, 0, 1, 1], "max")
    torch.testing.assert_close(by_sum(x), torch.tensor([[-4.0, 6.0]]))
    torch.testing.assert_close(by_max(x), torch.tensor([[5.0, 3.0]]))
    assert int(by_sum(x).argmax()) == 1 and int(by_max(x).argmax()) == 0 == int(fine_net(x).argmax()) // 2
    # Differentiable: PGD's input gradient flows through the largest fine logit of each group.
    x = torch.zeros(1, 2, requires_grad=True)
    (grad,) = torch.autograd.grad(by_max(x)[0, 0], x)
    assert grad.shape == (1, 2)
    with pytest.raises(ValueError, match="coarse_rule='mean'"):
        SumToCoarse(fine_net, [0, 0, 1, 1], "mean")


def test_table2_classes_resolve_through_the_imagenet_order():
    classes = variant_classes("fine2coarse")
    assert len(classes) == 60 and len({wnid for wnid, _, _ in classes}) == 60
    names = dict(imagenet1k_classes())
    assert names[classes[0][0]] == "Chihuahua" and classes[0][0] == "n02085620"
    assert [c for _, _, c in classes] == [i // 6 for i in range(60)]
    assert len(FINE2COARSE_TABLE) == 10 and all(len(v) == 6 for v in FINE2COARSE_TABLE.values())
    # Tsipras et al.'s 9 classes: 203 ImageNet classes in index ranges (dog 151-268 first among them).
    tsipras = variant_classes("tsipras9")
    assert len(tsipras) == 203 and tsipras[0] == (imagenet1k_classes()[151][0], 0, 0)


def test_restricted_imagenet_reads_the_tree(tmp_path):
    wnids = [w for w, _, _ in variant_classes("fine2coarse")]
    make_imagenet_tree(tmp_path / "imagenet", wnids, n_train=2, n_val=1)
    for label_set, n_classes in (("fine", 60), ("coarse", 10), ("fine2coarse", 60)):
        dm = RestrictedImageNetDataModule(
            root=str(tmp_path / "imagenet"), label_set=label_set, eta=0.5, num_workers=0
        )
        dm.check_available()
        dm.setup()
        assert dm.num_classes == n_classes and len(dm.train) == 120 and len(dm.test) == 60
        assert dm.test.y.max() < (60 if label_set == "fine" else 10)  # fine2coarse: coarse test labels
        x, y = next(dm.test.batches(4))
        assert x.shape == (4, 3, 224, 224) and x.dtype == torch.float32 and 0 <= x.min() <= x.max() <= 1
        xb, yb, idx = next(iter(dm.train_dataloader()))
        assert xb.shape == (128, 3, 224, 224) or xb.shape[1:] == (3, 224, 224)
        assert torch.equal(yb, dm.train.y[idx])


def test_restricted_imagenet_errors(tmp_path):
    with pytest.raises(ConfigError, match="ImageNet cannot be downloaded automatically"):
        RestrictedImageNetDataModule(root=str(tmp_path), download=True)
    with pytest.raises(ConfigError, match="data.label_set='fine' is not allowed with variant=tsipras9"):
        RestrictedImageNetDataModule(root=str(tmp_path), variant="tsipras9", label_set="fine")
    dm = RestrictedImageNetDataModule(root=str(tmp_path / "nowhere"))
    with pytest.raises(
        ConfigError, match=r"60 class folders are missing in .*nowhere/train \(e.g. n02085620"
    ):
        dm.check_available()


@pytest.mark.parametrize("experiment", ["fine2coarse_cifar100", "fine2coarse_rimagenet"])
def test_both_arms_run_through_the_cli(tmp_path, experiment):
    data = tmp_path / "data"
    if experiment == "fine2coarse_cifar100":
        make_cifar(data, "cifar100", n_per_file=8)
        sizes = []
    else:
        make_imagenet_tree(data / "imagenet", [w for w, _, _ in variant_classes("fine2coarse")], 1, 1)
        sizes = ["data.train_subset=16", "data.test_subset=6", "data.num_workers=0"]
    proc = run_cli(
        f"+experiment={experiment}", "-m", "method=fine2coarse,coarse", *QUIET, *sizes,
        "trainer.fast_dev_run=true", "data.batch_size=8", "attack.steps=1", "attack.restarts=1",
        "attack.eval_eps=[0.0]",
        "hydra.sweep.dir=sweep", cwd=tmp_path, env={"BENIGN_DATA_DIR": str(data)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    fine2coarse, coarse = (read_json(p) for p in sorted((tmp_path / "sweep").glob("*/results.json")))
    assert (fine2coarse["method"], coarse["method"]) == ("fine2coarse", "natural")
    assert (fine2coarse["label_set"], coarse["label_set"]) == ("fine2coarse", "coarse")
    for r in (fine2coarse, coarse):  # both are evaluated on the coarse test labels
        assert set(r["adv_err_by_eps"]) == {"0.0", str(r["eps"])}
    spec = torch.load(
        sorted((tmp_path / "sweep").glob("0_*"))[0] / "checkpoints" / "last.ckpt", weights_only=True
    )
    assert spec["hyper_parameters"]["model_spec"]["coarse_of_fine"] is not None


def test_label_set_and_method_must_agree(tmp_path, monkeypatch, main_in_process):
    make_cifar(tmp_path / "data", "cifar100", n_per_file=4)
    monkeypatch.setenv("BENIGN_DATA_DIR", str(tmp_path / "data"))
    code, _, stderr = main_in_process(
        "+experiment=fine2coarse_cifar100",
        "method=natural",
        "data.label_set=fine2coarse",
        *QUIET,
        "hydra.run.dir=r",
    )
    assert code == 2 and "it needs method=fine2coarse (the method is NaturalTraining)" in stderr
