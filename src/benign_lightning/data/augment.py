"""The standard CIFAR augmentation (random crop with 4-pixel zero padding, horizontal flip), in two
implementations that draw from the same distribution:

- ``random_crop_flip`` augments a whole uint8 batch on its device with one gather (the tensor
  fast path: no workers, no host round trip);
- ``crop_flip_transform`` is torchvision's per-image transform, for the DataLoader path.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_crop_flip(
    x: torch.Tensor, padding: int = 4, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Each image of the N×C×H×W batch ``x``: zero-pad by ``padding``, crop H×W at a uniformly
    random offset, and flip left-right with probability 1/2."""
    n, c, h, w = x.shape
    device = x.device
    padded = F.pad(x, (padding, padding, padding, padding))
    offsets = torch.randint(0, 2 * padding + 1, (2, n), generator=generator, device=device)
    rows = (offsets[0, :, None] + torch.arange(h, device=device)).view(n, 1, h, 1)
    cols = (offsets[1, :, None] + torch.arange(w, device=device)).view(n, 1, 1, w)
    batch = torch.arange(n, device=device).view(n, 1, 1, 1)
    channel = torch.arange(c, device=device).view(1, c, 1, 1)
    out = padded[batch, channel, rows, cols]
    flip = torch.rand(n, generator=generator, device=device) < 0.5
    return torch.where(flip.view(n, 1, 1, 1), out.flip(-1), out)


def crop_flip_transform(size: tuple[int, int], padding: int = 4):
    """torchvision's RandomCrop(size, padding) + RandomHorizontalFlip(), on uint8 tensor images."""
    from torchvision.transforms import v2

    return v2.Compose([v2.RandomCrop(size, padding=padding), v2.RandomHorizontalFlip()])
