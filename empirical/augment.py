"""Data augmentation of training batches: random shifts (translation with zero padding) and
horizontal flips, the augmentations image classifiers are commonly trained with.

They matter to a collective because they move or cut its signal: a 3x3 patch in a corner, shifted
by up to ``shift`` pixels, lands elsewhere or partly off the image; a flip carries a
bottom-right patch to the bottom-left. Applied to every training batch (never to validation or
test points), drawn from the run's generator, so a run is reproducible.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def make_augment(shift: int = 0, flip: bool = False):
    """A batch transform ``augment(xb, generator)`` for images (N, C, H, W) or signals (N, L);
    None when it would do nothing."""
    if shift == 0 and not flip:
        return None

    def augment(xb: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if flip:
            mask = torch.rand(len(xb), generator=generator) < 0.5
            xb = torch.where(mask.to(xb.device).view(-1, *[1] * (xb.dim() - 1)), xb.flip(-1), xb)
        if shift:
            xb = shift_batch(xb, shift, generator)
        return xb

    return augment


def shift_batch(xb: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """Every point translated by its own integer offset in [-k, k] on each spatial axis (zeros come in)."""
    spatial = 2 if xb.dim() == 4 else 1
    offsets = torch.randint(-k, k + 1, (len(xb), spatial), generator=generator)
    pad = (k, k) * spatial
    padded = F.pad(xb, pad)
    out = torch.empty_like(xb)
    for shift in torch.unique(offsets, dim=0):  # at most (2k + 1)^2 distinct offsets: exact integer crops
        rows = (offsets == shift).all(dim=1).to(xb.device)
        if spatial == 2:
            dy, dx = int(shift[0]), int(shift[1])
            h, w = xb.shape[-2:]
            out[rows] = padded[rows][..., k - dy:k - dy + h, k - dx:k - dx + w]
        else:
            dx = int(shift[0])
            n = xb.shape[-1]
            out[rows] = padded[rows][..., k - dx:k - dx + n]
    return out
