"""Training methods as LightningModules. They differ in their loss only."""

from benign_lightning.methods.natural import NaturalTraining

__all__ = ["NaturalTraining"]
