"""The privacy a DP-SGD run spends, by Opacus's RDP accountant (shared by both pillars).

Imported lazily where it is used: Opacus imports torch, and the registry and the simulator must
load without it.
"""

from __future__ import annotations

import math


def privacy_spent(*, noise_multiplier: float, sample_rate: float, steps: int, delta: float) -> float:
    """epsilon at ``delta`` of ``steps`` Poisson-subsampled Gaussian steps, by Opacus's RDP accountant."""
    if noise_multiplier == 0:
        return math.inf
    from opacus.accountants import RDPAccountant

    accountant = RDPAccountant()
    accountant.history = [(noise_multiplier, sample_rate, steps)]
    return float(accountant.get_epsilon(delta=delta))
