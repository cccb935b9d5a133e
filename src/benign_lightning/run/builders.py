"""The run's objects from the config: datamodule, model spec, method (with its optimizer and
schedule) and the evaluation attack. One place, so the CLI, ``run`` from Python and the
SLURM launcher's checks build the same things from the same keys."""

from __future__ import annotations

import inspect
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.errors import InstantiationException
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

from benign_lightning.attacks.spec import PIXEL_RANGE, AttackSpec
from benign_lightning.data.base import LabelNoiseDataModule
from benign_lightning.evaluation.evaluate import eps_grid
from benign_lightning.exact import ExactClassifier
from benign_lightning.methods import NaturalTraining
from benign_lightning.methods.ensemble import ENSEMBLE_OF, EnsembleMixin
from benign_lightning.methods.natural import needs_total_steps
from benign_lightning.models import build_model
from benign_lightning.models.ensemble import StackedModels, check_stackable
from benign_lightning.plumbing.errors import ConfigError

# Keys of a method config that belong to the data, not to the method's constructor.
_METHOD_DATA_KEYS = ("label_set",)


def resolve_clamp(clamp: Any, input_range: tuple[float, float] | None) -> Any:
    """``attack.clamp``: ``auto`` is the data's own box (``LabelNoiseDataModule.input_range``)."""
    return input_range if clamp == "auto" else clamp


def attack_spec(attack_cfg: DictConfig, input_range: tuple[float, float] | None = PIXEL_RANGE) -> AttackSpec:
    """The evaluation attack of the ``attack`` config group, clamped to ``input_range`` under
    ``clamp: auto`` (pass the datamodule's)."""
    node = OmegaConf.to_container(attack_cfg, resolve=True)
    node["clamp"] = resolve_clamp(node.get("clamp", "auto"), input_range)
    try:
        return AttackSpec.from_config(node)
    except ValueError as e:
        raise ConfigError(str(e)) from None


def curves_attack_spec(cfg: DictConfig, input_range: tuple[float, float] | None = PIXEL_RANGE) -> AttackSpec:
    """The per-epoch curves' cheap attack (``curves.attack``): PGD on the cross-entropy at the run's
    norm and clamp, ``steps`` steps of 2.5·ε/steps from a random start, whatever the final
    evaluation's attack is (AutoAttack too)."""
    spec = attack_spec(cfg.attack, input_range)
    batch_size = cfg.curves.attack.get("batch_size") or spec.batch_size
    return spec.replace(name="pgd", steps=int(cfg.curves.attack.steps), step_size=None, rel_step_size=None,
                        random_start=True, restarts=int(cfg.curves.attack.restarts), loss="ce",
                        early_stop=True, batch_size=int(batch_size))  # fmt: skip


def _check_arguments(node: dict[str, Any], group: str) -> None:
    """Every key of an optimizer or scheduler node must be an argument of its ``_target_`` (a class
    called with keywords), so a stray key is named before anything is built."""
    target = get_class(node["_target_"])
    params = inspect.signature(target).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    takes = [name for name in params if name not in ("self", "params", "optimizer")]
    for key, value in node.items():
        if not key.startswith("_") and key not in params:
            raise ConfigError(
                f"{group}.{key}={value}: {node['_target_']} takes no such argument; it takes "
                f"{', '.join(takes)}"
            )


def _instantiate(node: Any, what: str, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate``; a ConfigError raised by the target is passed on as it is, and a
    target that does not take the config's keys is a ConfigError naming the group."""
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as e:
        if isinstance(e.__cause__, ConfigError):
            raise e.__cause__ from None
        raise ConfigError(f"{what}: {e.__cause__ or e}") from None


def build_datamodule(cfg: DictConfig) -> LabelNoiseDataModule:
    return _instantiate(cfg.data, "data")  # its __init__ checks the dataset's own settings


def model_spec(cfg: DictConfig, datamodule: LabelNoiseDataModule) -> dict[str, Any]:
    """What ``build_model`` needs; it is stored in checkpoints so ``load_model`` can rebuild it."""
    return {
        "name": cfg.arch,
        "num_classes": datamodule.num_classes,
        "in_shape": list(datamodule.in_shape),
        "mean": list(datamodule.mean) if datamodule.mean else None,
        "std": list(datamodule.std) if datamodule.std else None,
        "coarse_of_fine": list(datamodule.coarse_of_fine) if datamodule.fine2coarse else None,
        **({"coarse_rule": str(cfg.get("coarse_rule", "sum"))} if datamodule.fine2coarse else {}),
        **OmegaConf.to_container(cfg.model.kwargs, resolve=True),
    }


def optimizer_factory(cfg: DictConfig):
    """``optimizer`` as a callable of the parameters (a ``functools.partial`` of its ``_target_``);
    every key must be an argument of the class."""
    _check_arguments(OmegaConf.to_container(cfg.optimizer, resolve=True), "optimizer")
    return _instantiate(cfg.optimizer, f"optimizer ({cfg.optimizer.get('_target_')})")


def scheduler_factory(cfg: DictConfig) -> tuple[Any, str]:
    """``scheduler`` as a callable of the optimizer, and when Lightning steps it; ``(None, 'epoch')``
    for ``scheduler=none``."""
    node = cfg.get("scheduler")
    if not node or "_target_" not in node:
        return None, "epoch"
    node = OmegaConf.to_container(node, resolve=True)
    interval = node.pop("interval", "epoch")  # Lightning's, not the scheduler class's
    _check_arguments(node, "scheduler")
    return _instantiate(node, f"scheduler ({node['_target_']})"), interval


def check_optimization(cfg: DictConfig) -> None:
    """Build the optimizer and the schedule once on a dummy parameter: a key their classes do not
    take, or a value they refuse, is a ConfigError before any data loads."""
    try:
        optimizer = optimizer_factory(cfg)([torch.nn.Parameter(torch.zeros(1))])
    except (TypeError, ValueError) as e:
        raise ConfigError(f"optimizer ({cfg.optimizer._target_}): {e}") from None
    scheduler, _ = scheduler_factory(cfg)
    if scheduler is None:
        return
    steps = {"total_steps": 1} if needs_total_steps(scheduler) else {}
    try:
        scheduler(optimizer, **steps)
    except (TypeError, ValueError, KeyError) as e:
        raise ConfigError(f"scheduler ({cfg.scheduler._target_}): {e}") from None


def is_exact(cfg: DictConfig) -> bool:
    """Does ``method`` name a closed-form classifier rather than a LightningModule?"""
    return issubclass(get_class(cfg.method._target_), ExactClassifier)


def build_exact(cfg: DictConfig, datamodule: LabelNoiseDataModule) -> ExactClassifier:
    """The classifier of ``method``, bound to the data, the attack norm and the ε grid (a
    ConfigError for what its exact computation does not cover)."""
    classifier = instantiate(cfg.method)
    classifier.bind(datamodule, str(cfg.attack.norm), eval_grid(cfg))
    return classifier


def eval_grid(cfg: DictConfig) -> list[float]:
    """Every ε evaluated: ``attack.eval_eps`` and ``eps``."""
    return eps_grid(OmegaConf.to_container(cfg.attack.eval_eps, resolve=True), cfg.eps)


def _method_parts(
    cfg: DictConfig, datamodule: LabelNoiseDataModule
) -> tuple[type, dict[str, Any], dict[str, Any]]:
    """The method's class, its constructor's arguments but the model, and the model spec."""
    kwargs = OmegaConf.to_container(cfg.method, resolve=True)
    for key in _METHOD_DATA_KEYS:
        kwargs.pop(key, None)
    if "clamp" in kwargs:  # the training attack's box, as the evaluation attack's
        kwargs["clamp"] = resolve_clamp(kwargs["clamp"], datamodule.input_range)
    method_cls = get_class(kwargs.pop("_target_"))
    spec = model_spec(cfg, datamodule)
    scheduler, interval = scheduler_factory(cfg)
    speed = cfg.speed
    kwargs.update(
        model_spec=spec, optimizer=optimizer_factory(cfg), scheduler=scheduler, scheduler_interval=interval,
        channels_last=bool(speed.channels_last), fused_optimizer=bool(speed.fused_optimizer),
        compile_model=bool(speed.compile),
    )  # fmt: skip
    return method_cls, kwargs, spec


def _construct(method_cls: type, model: torch.nn.Module, kwargs: dict[str, Any]) -> NaturalTraining:
    try:
        return method_cls(model, **kwargs)
    except TypeError as e:
        shown = {k: v for k, v in kwargs.items() if k not in ("optimizer", "scheduler", "model_spec")}
        raise ConfigError(f"method config {shown} does not fit {method_cls.__name__}: {e}") from None


def build_method(cfg: DictConfig, datamodule: LabelNoiseDataModule) -> NaturalTraining:
    """The LightningModule named by ``method._target_``, with its model, optimizer and schedule. Its
    arguments are plain Python (no DictConfig lands in its hyper-parameters, so checkpoints load
    with ``weights_only=True``)."""
    method_cls, kwargs, spec = _method_parts(cfg, datamodule)
    model = build_model(**spec)
    if cfg.speed.channels_last:
        model = model.to(memory_format=torch.channels_last)  # only 4-D (convolution) weights change
    return _construct(method_cls, model, kwargs)


def member_seeds(cfg: DictConfig) -> list[int]:
    """The seed of each member of ``ensemble.size``: member k is the single run with seed + k."""
    return [int(cfg.seed) + k for k in range(int(cfg.ensemble.size))]


def build_ensemble_method(cfg: DictConfig, datamodule: LabelNoiseDataModule) -> EnsembleMixin:
    """The ensemble form of ``method`` over ``ensemble.size`` members, member k initialised as the
    single run with seed + k would be (its seed set, then its model built)."""
    method_cls, kwargs, spec = _method_parts(cfg, datamodule)
    seeds = member_seeds(cfg)
    members = []
    for seed in seeds:
        pl.seed_everything(seed, workers=True, verbose=False)  # what job.py does before build_method
        members.append(build_model(**spec))
    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    vmap = cfg.ensemble.get("vmap", "auto")
    stacked = StackedModels(members, vmapped=None if vmap == "auto" else bool(vmap))
    return _construct(ENSEMBLE_OF[method_cls], stacked, {**kwargs, "member_seeds": seeds})


def check_ensemble(cfg: DictConfig, datamodule: LabelNoiseDataModule) -> None:
    """``ensemble.size > 1``: a method with an ensemble form and a model whose members stack."""
    method_cls = get_class(cfg.method._target_)
    if method_cls not in ENSEMBLE_OF:
        choices = ", ".join(sorted(c.method_name for c in ENSEMBLE_OF))
        raise ConfigError(
            f"ensemble.size={cfg.ensemble.size} with method {method_cls.__name__}: members can be trained "
            f"with {choices}; use ensemble.size=1 for this method"
        )
    with torch.device("meta"):  # the layers only, no memory
        model = build_model(**model_spec(cfg, datamodule))
    check_stackable(model, str(cfg.arch))
    if cfg.data.get("cv_folds"):
        # Member k is the run with seed + k; its folds (and noise) come from data_seed, which must not
        # move with it, or each member would hold out a fold of other noise.
        shifted = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))
        shifted.seed = int(cfg.seed) + 1
        if int(shifted.data.data_seed) != int(cfg.data.data_seed):
            raise ConfigError(
                f"ensemble.size={cfg.ensemble.size} with data.cv_folds={cfg.data.cv_folds}: data_seed "
                "follows the member's seed, so the folds would split different noise; set "
                f"data_seed={cfg.data.data_seed}"
            )
