"""Training methods as LightningModules. They differ in their loss only."""

from benign_lightning.methods.natural import Fine2CoarseTraining, NaturalTraining
from benign_lightning.methods.robust import AdversarialTraining, RobustTraining, Trades

__all__ = ["AdversarialTraining", "Fine2CoarseTraining", "NaturalTraining", "RobustTraining", "Trades"]
