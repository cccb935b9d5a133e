"""Closed-form classifiers with exact adversarial errors (see ``exact.base``)."""

from benign_lightning.exact.base import ExactClassifier
from benign_lightning.exact.intervals import Parity, UnionOfIntervals
from benign_lightning.exact.nearest_neighbor import NearestNeighbor

__all__ = ["ExactClassifier", "NearestNeighbor", "Parity", "UnionOfIntervals"]
