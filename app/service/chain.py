"""One weight's gradient as its chain-rule factors, per row of the current batch.

``∂L/∂W[l][i, j] = Σ_s ∂L/∂a[s, j] · f′(z[s, j]) · x[s, i]`` (the bias's with 1 for x), each
factor from the batch's trace (``engine.gradcheck.chain_terms``), beside the gradient
backprop reported and the central difference. Call it with the session held
(``Session.chain_rule``).
"""

from __future__ import annotations

from typing import Any

from app.engine import ConfigError, Model, chain_terms, check_one
from app.engine.gradcheck import tolerance_for

CHAIN_FORMULA_W = (
    "∂L/∂W[{l}][{i},{j}] = Σ_s ∂L/∂a[s,{j}] · f'(z[s,{j}]) · x[s,{i}]  (+ l2·W + l1·sign(W))"
    "  — lesson 000: ∂Loss/∂W = ∂Loss/∂ŷ · ∂ŷ/∂z · ∂z/∂W"
)
CHAIN_FORMULA_B = (
    "∂L/∂b[{l}][{j}] = Σ_s ∂L/∂a[s,{j}] · f'(z[s,{j}]) · 1"
    "  — lesson 003: ∂E/∂B = ∂E/∂Y, summed over the batch"
)
# A cross-entropy fused with its output activation: the loss hands back ∂L/∂z itself.
CHAIN_FORMULA_FUSED_W = (
    "∂L/∂W[{l}][{i},{j}] = Σ_s ∂L/∂z[s,{j}] · x[s,{i}]  (+ l2·W + l1·sign(W)),"
    "  ∂L/∂z = (p − y)/n: loss and output activation fused"
)
CHAIN_FORMULA_FUSED_B = (
    "∂L/∂b[{l}][{j}] = Σ_s ∂L/∂z[s,{j}] · 1,  ∂L/∂z = (p − y)/n: loss and output activation fused"
)


class BackwardNotRunError(ConfigError):
    """That layer's backward pass has not run on the current batch: nothing to break down."""


def chain_rule(model: Model, layer: int, i: int | None, j: int) -> dict[str, Any]:
    """∂L/∂W[layer][i, j] (∂L/∂b[layer][j] when ``i`` is None) of ``model``'s current batch:
    the factors per row (upstream, local, input: each (n,)), their sum, the gradient
    reported, the central difference and the parameter's value the batch used."""
    traces = model.traces
    if 0 <= layer < len(traces) and traces[layer].dW is None:
        raise BackwardNotRunError(
            "layer",
            f"layer {layer} has no backward pass yet: step further (a batch, or its "
            "phases down to 'backward' of this layer)",
        )
    terms = chain_terms(model, layer, i, j)
    numeric, relative_error = check_one(model, layer, i, j)
    if terms.fused:
        formula = CHAIN_FORMULA_FUSED_B if i is None else CHAIN_FORMULA_FUSED_W
    else:
        formula = CHAIN_FORMULA_B if i is None else CHAIN_FORMULA_W
    return {
        "layer": layer,
        "i": i,
        "j": j,
        "parameter": f"b[{layer}][{j}]" if i is None else f"W[{layer}][{i}, {j}]",
        "value": parameter_used(model, layer, i, j),
        "activation": terms.activation,
        "formula": formula.format(l=layer, i=i, j=j),
        "upstream": terms.upstream.tolist(),
        "local": terms.local.tolist(),
        "input": terms.input.tolist(),
        "products": terms.products.tolist(),
        "penalty": terms.penalty,
        "gradient": terms.gradient,
        "reported": terms.reported,
        "numeric": numeric,
        "relative_error": relative_error,
        "note": terms.note,
        "fused": terms.fused,
        "separate": None if terms.separate is None else terms.separate.tolist(),
        "equal_to_rounding": terms.equal_to_rounding,
        "tolerance": tolerance_for(model.config.dtype),
    }


def parameter_used(model: Model, layer: int, i: int | None, j: int) -> float:
    """W[i, j] (b[j] when i is None) of layer ``layer`` as the current batch used it: the
    value its gradient belongs to."""
    trace = model.traces[layer]
    used = trace.b if i is None else trace.W
    if used is None:
        raise ConfigError("layer", f"layer {layer} has no such parameter on this batch")
    return float(used[0, j] if i is None else used[i, j])
