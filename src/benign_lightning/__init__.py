"""benign_lightning: label noise, memorization and adversarial robustness with Lightning + Hydra.

Reproduces *How Benign is Benign Overfitting?* (Sanyal et al., ICLR 2021). Run experiments with
``python -m benign_lightning``; in a notebook, use ``load_model(run_dir)`` and ``attacks.pgd``.
"""

import hashlib

from omegaconf import OmegaConf

from benign_lightning.results import load_model, read_results

# ${times:a,b} in configs (wang2024: the budget eps = alpha_frac * ||mu||); registered on import, so
# the CLI, compose() in a notebook and the SLURM workers all resolve it.
OmegaConf.register_new_resolver("times", lambda a, b: float(a) * float(b), replace=True)

# Filesystems refuse names over 255 bytes, and a sweep job's folder is named by its overrides: a
# long command line (reproduce's CPU scales) would stop the job before it runs. ${short_name:...}
# keeps such a name's head and adds a digest of the whole, so names stay distinct and readable.
DIRNAME_MAX = 200


def short_name(name: str) -> str:
    if len(name.encode()) <= DIRNAME_MAX:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:10]
    return name.encode()[: DIRNAME_MAX - 11].decode(errors="ignore") + "_" + digest


OmegaConf.register_new_resolver("short_name", short_name, replace=True)

__version__ = "0.1.0"
__all__ = ["__version__", "load_model", "read_results"]
