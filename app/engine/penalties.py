"""The regularisation penalty on the weights (biases are not penalised):

P = (l2/2)·ΣW² + l1·Σ|W|,   ∂P/∂W = l2·W + l1·sign(W)

Two rules take it into the update (``ModelConfig.penalty_rule``):

- ``gradient``: the penalty's gradient joins the data's, one step W ← W − α·(∂E/∂W + ∂P/∂W);
- ``tfp``: TF Playground's ``updateWeights`` (nn.ts), two steps. The data's step first,
  W₁ = W − α·∂E/∂W; then the penalty's, W₂ = W₁ − (α·l2)·W − (α·l1)·sign(W), on the weight
  from before the data's step. Where L1 is on and W₂ has the opposite sign of W₁ (the penalty
  pushed it across 0), the weight is set to 0 and is *dead*: frozen, neither step touches it
  again (nn.ts's ``isDead``) until the weights are rebuilt. nn.ts has one penalty at a time;
  with both, the L2 step comes first and the crossing test holds while l1 > 0.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .dense import Array

PENALTY_RULES = ("gradient", "tfp")
Mask = NDArray[np.bool_]  # true/false per weight, W's shape: the dead ones


def penalty_gradient(W: Array, l1: float | Array, l2: float | Array) -> Array | None:
    """∂/∂W of (l2/2)·ΣW² + l1·Σ|W|: l2·W + l1·sign(W); None when there is no penalty.

    For a stack of models, l1 and l2 may be columns (K, 1, 1), each model its own: the whole
    sum for every model is then each one's own term to the bit, where its l1 or l2 is 0 too
    (0·W and 0·sign(W) are zeros of W's sign, so adding them changes no finite number). A
    model with neither has no term: the caller leaves it out (``kernel.Rates``).
    """
    if isinstance(l1, np.ndarray) or isinstance(l2, np.ndarray):
        stacked: Array = l2 * W + l1 * np.sign(W)
        return stacked
    if l1 == 0.0 and l2 == 0.0:
        return None
    if l1 == 0.0:
        return l2 * W
    if l2 == 0.0:
        return l1 * np.sign(W)
    return l2 * W + l1 * np.sign(W)


def tfp_penalty_step(
    W: Array, stepped: Array, dead: Mask | None, l1_step: float | Array, l2_step: float | Array
) -> tuple[Array, Mask | None]:
    """TF Playground's penalty step, after the data's: (W₂, the dead weights).

    W        the weights before this update                                (…, n_in, n_out)
    stepped  W₁ = W − α·∂E/∂W, the data's step (or momentum's W + v)       W's shape
    dead     the weights frozen so far (bool, W's shape), or None: none
    l1_step, l2_step   α·l1 and α·l2 (0: that penalty is off); for a stack of models,
             columns (K, 1, 1) broadcasting over W, each model its own (0 where it has none)

    W₂ = W₁ − (α·l2)·W − (α·l1)·sign(W); where l1 > 0 and W₁·W₂ < 0, W₂ = 0 and the weight
    dies; a dead weight keeps W (neither step moves it). A model of a stack whose α·l2 (or
    α·l1) is 0 skips that part, as alone. ``stepped`` and ``dead`` are never written: W₂ is a
    new array (``stepped`` itself when nothing applies), and a new mask comes back when a
    weight dies (``dead`` itself otherwise).
    """
    new = stepped
    if np.any(l2_step):
        new = _for_some(l2_step, new - l2_step * W, new)
    crossed: Mask | None = None
    if np.any(l1_step):
        pushed = _for_some(l1_step, new - l1_step * np.sign(W), new)
        crossed = stepped * pushed < 0.0  # the penalty pushed it across 0
        if not np.all(l1_step):
            crossed &= l1_step != 0.0  # (only L1 kills)
        new = pushed
        if crossed.any():
            new = np.where(crossed, 0.0, new)
        else:
            crossed = None
    if dead is not None:  # frozen before this step: as they were
        new = np.where(dead, W, new)
    if crossed is not None:
        dead = crossed if dead is None else dead | crossed
    return new, dead


def _for_some(step: float | Array, taken: Array, skipped: Array) -> Array:
    """``taken`` for the models whose ``step`` is nonzero (every one, for a number)."""
    return taken if np.all(step) else np.where(step != 0.0, taken, skipped)


def penalty(weights: list[Array], l1: float, l2: float) -> float:
    """(l2/2)·ΣW² + l1·Σ|W| over every weight matrix (biases are not penalised)."""
    if l1 == 0.0 and l2 == 0.0:
        return 0.0
    return float(sum(0.5 * l2 * np.sum(W**2) + l1 * np.sum(np.abs(W)) for W in weights))
