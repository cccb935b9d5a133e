"""benign_lightning: label noise, memorization and adversarial robustness with Lightning + Hydra.

Reproduces *How Benign is Benign Overfitting?* (Sanyal et al., ICLR 2021). Run experiments with
``python -m benign_lightning``; in a notebook, use ``load_model(run_dir)`` and ``attacks.pgd``.
"""

from benign_lightning.results import load_model, read_results

__version__ = "0.1.0"
__all__ = ["__version__", "load_model", "read_results"]
