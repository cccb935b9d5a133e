"""benign_lightning: label noise, memorization and adversarial robustness with Lightning + Hydra.

Reproduces *How Benign is Benign Overfitting?* (Sanyal et al., ICLR 2021). Run experiments with
``python -m benign_lightning``; in a notebook, use ``load_model(run_dir)`` and ``attacks.pgd``.
"""

from omegaconf import OmegaConf

from benign_lightning.results import load_model, read_results

# ${times:a,b} in configs (wang2024: the budget eps = alpha_frac * ||mu||); registered on import, so
# the CLI, compose() in a notebook and the SLURM workers all resolve it.
OmegaConf.register_new_resolver("times", lambda a, b: float(a) * float(b), replace=True)

__version__ = "0.1.0"
__all__ = ["__version__", "load_model", "read_results"]
