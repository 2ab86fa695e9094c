"""The regularisation penalty on the weights (biases are not penalised):

P = (l2/2)·ΣW² + l1·Σ|W|,   ∂P/∂W = l2·W + l1·sign(W)
"""

from __future__ import annotations

import numpy as np

from .dense import Array


def penalty_gradient(W: Array, l1: float, l2: float) -> Array | None:
    """∂/∂W of (l2/2)·ΣW² + l1·Σ|W|: l2·W + l1·sign(W); None when there is no penalty."""
    if l1 == 0.0 and l2 == 0.0:
        return None
    if l1 == 0.0:
        return l2 * W
    if l2 == 0.0:
        return l1 * np.sign(W)
    return l2 * W + l1 * np.sign(W)


def penalty(weights: list[Array], l1: float, l2: float) -> float:
    """(l2/2)·ΣW² + l1·Σ|W| over every weight matrix (biases are not penalised)."""
    if l1 == 0.0 and l2 == 0.0:
        return 0.0
    return float(sum(0.5 * l2 * np.sum(W**2) + l1 * np.sum(np.abs(W)) for W in weights))
