"""Datamodules. Every one corrupts its training labels with ``noise.corrupt_labels``."""

from benign_lightning.data.base import LabelNoiseDataModule, Split, to_unit_interval
from benign_lightning.data.cifar import CIFAR10DataModule, CIFAR100DataModule
from benign_lightning.data.imagenet import RestrictedImageNetDataModule
from benign_lightning.data.mnist import MNIST01DataModule, MNISTDataModule
from benign_lightning.data.noise import NOISE_MODES, NoisyLabels, corrupt_labels
from benign_lightning.data.planar import (
    BlobsDataModule,
    CirclesDataModule,
    IntervalsDataModule,
    LatticeDataModule,
    PlanarDataModule,
)
from benign_lightning.data.signal_noise import SignalNoiseDataModule
from benign_lightning.data.synthetic import SyntheticDataModule
from benign_lightning.data.toy_mnist import ToyMNISTDataModule

__all__ = [
    "BlobsDataModule",
    "CirclesDataModule",
    "IntervalsDataModule",
    "LatticeDataModule",
    "PlanarDataModule",
    "CIFAR10DataModule",
    "CIFAR100DataModule",
    "NOISE_MODES",
    "MNIST01DataModule",
    "MNISTDataModule",
    "NoisyLabels",
    "RestrictedImageNetDataModule",
    "SignalNoiseDataModule",
    "Split",
    "SyntheticDataModule",
    "LabelNoiseDataModule",
    "ToyMNISTDataModule",
    "corrupt_labels",
    "to_unit_interval",
]
