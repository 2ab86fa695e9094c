"""Bodies of the study endpoints: grade your own backprop, the gradient coach, hand checks."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from .schemas import MAX_INT, Matrix, RequestBody, ResponseBody

Rows = list[list[float]]


# ----- grade --------------------------------------------------------------------------------


class LayerProblem(ResponseBody):
    activation: str
    W: Matrix = Field(description="The weights the batch runs with, (inputs, units).")
    b: list[float] | None = Field(description="Its biases; null without biases.")


class GradeProblem(ResponseBody):
    """The current batch (or a student's own), as a student's own backprop needs it."""

    step: int
    batch_rows: int
    batch_indices: list[int]
    x: Matrix = Field(description="The batch's input rows (n, inputs).")
    y: Matrix = Field(description="Their targets (n, outputs).")
    loss: str
    learning_rate: float
    momentum: float
    l1: float
    l2: float
    layers: list[LayerProblem] = Field(description="Input side first.")
    seed: SeedUsed = None


Bias = list[float] | Rows  # (units,), or lesson 003's own row (1, units)


class LayerGradients(RequestBody):
    dW: Rows = Field(description="∂L/∂W, W's shape (inputs, units).")
    db: Bias | None = Field(
        None,
        description="∂L/∂b per unit: (units,) or lesson 003's (1, units); omit without biases.",
    )


class LayerWeights(RequestBody):
    W: Rows = Field(description="W after your update, W − α·∂L/∂W.")
    b: Bias | None = Field(None, description="b after your update: (units,) or (1, units).")


StudentName = Annotated[
    str | None,
    Field(
        max_length=1000,
        description="A class's student: the name they answer the class's questions under "
        "(at most question_max_name_length characters). Counted in the lesson's record "
        "(GET /api/classes/current/record), and run on the student's own batch, drawn by "
        "their seed (see `seed`).",
    ),
]
MAX_SEED = 2**32 - 1  # a student's seed (``service/variants.py``) and a worksheet's
Seed = Annotated[
    int | None,
    Field(
        ge=0,
        le=MAX_SEED,
        description="An explicit seed: the batch it draws (rows of the training data, at the "
        "session's weights now) instead of the session's current batch; it wins over "
        "`student`'s own seed.",
    ),
]
SeedUsed = Annotated[
    int | None,
    Field(
        description="The seed that drew this batch (given, or the student's own: "
        "sha256 of the session id and the name); null: the session's current batch."
    ),
]
Recorded = Annotated[
    bool | None,
    Field(
        description="With `student`: counted in the lesson's record (false once it has "
        "question_max_answers students)."
    ),
]


class GradeRequest(RequestBody):
    """Your backprop's result for the current batch (or, with `student` or `seed`, your own
    batch: GET …/grade with the same): gradients, or updated weights."""

    gradients: list[LayerGradients] | None = Field(
        None, description="One per layer, input side first."
    )
    weights: list[LayerWeights] | None = Field(None, description="One per layer (plain SGD only).")
    precision: Literal["float32", "float64"] | None = Field(
        None,
        description="The precision your code computed in. float32 is graded within a relative "
        "error of 1e-4 (float32's rounding, 2⁻²⁴ per operation, adds up over a batch), float64 "
        "within 1e-6. Omitted: float32 when every number you send is exactly a float32 (as "
        "float32 arrays' .tolist() gives), else float64. The answer's `tolerance` says which.",
    )

    student: StudentName = None
    seed: Seed = None

    @model_validator(mode="after")
    def one_of_them(self) -> GradeRequest:
        if (self.gradients is None) == (self.weights is None):
            raise ValueError("give either gradients or weights")
        return self


GRADE_EXAMPLES: dict[str, Any] = {
    "gradients": {
        "summary": "Lesson 000's network (no biases): dW of both layers",
        "value": {
            "gradients": [
                {"dW": [[0.01, 0.02, 0.0, -0.01], [0.0, 0.01, 0.0, 0.0], [0.02, 0.0, 0.01, 0.0]]},
                {"dW": [[0.1], [0.2], [0.1], [0.05]]},
            ]
        },
    }
}

Cause = Literal[
    "sign",
    "scale",
    "sign_scale",
    "transposed",
    "z_for_a",
    "a_for_z",
    "sign_z_for_a",
    "sign_a_for_z",
    "other_derivative",
    "activation_for_derivative",
    "upstream_for_delta",
    "bias_left_out",
    "half",
    "doubled",
    "learning_rate",
    "not_reached",
    "downstream",
    "bias",
    "shape",
]


class LayerGrade(ResponseBody):
    layer: int
    shape: list[int] = Field(description="∂L/∂W's shape, (inputs, units).")
    relative_error_W: float | None = Field(description="null when the shape is wrong.")
    relative_error_b: float | None
    passed: bool
    cause: Cause | None = Field(description="The likely mistake; null when none matches.")
    causes: list[Cause] = Field(
        description="Every mistake these numbers fit, the likely one (cause) first: more than "
        "one when two mistakes give the same numbers (the explanation says each)."
    )
    explanation: str


class GradeTolerance(ResponseBody):
    relative: float = Field(description="A layer passes when ‖s − e‖ / (‖s‖ + ‖e‖) is below it.")
    precision: Literal["float32", "float64"]
    reason: str = Field(description="Why this precision: given, or inferred from the numbers.")


class GradeResult(ResponseBody):
    """Per layer, against the engine; the first wrong layer in backprop's order (output first)."""

    step: int
    batch_rows: int
    submitted: Literal["gradients", "weights"]
    tolerance: GradeTolerance
    passed: bool
    first_wrong_layer: int | None = Field(
        description="The wrong layer backprop reaches first (the highest index): the bug's place."
    )
    diagnosis: str
    layers: list[LayerGrade]
    complete: bool = Field(
        description="Every common mistake was tried on the wrong layers. False when the time "
        "budget (max_grade_seconds) ran out first: every layer's verdict still stands, its "
        "causes are those found so far, and ``note`` says how far the search went."
    )
    note: str | None = Field(None, description="Why the search stopped early, when it did.")
    recorded: Recorded = None
    seed: SeedUsed = None


Index = Annotated[int, Field(ge=0, le=MAX_INT)]


# ----- coach --------------------------------------------------------------------------------


class CoachFinding(ResponseBody):
    """One problem, with the lesson's formula and where to look."""

    kind: Literal[
        "saturation",
        "output_saturation",
        "vanishing_gradient",
        "dead_relu",
        "exploding",
        "lr_too_high",
        "majority_class",
    ]
    message: str = Field(description="One sentence: what, why, what to try.")
    formula: str
    layer: int | None = Field(description="The layer at fault, when one is.")
    units: list[int] = Field(description="Its units at fault (0-based), for the inspector.")
    values: dict[str, Any] = Field(
        description="The numbers the message quotes, unrounded (shares are 0…1)."
    )


class CoachReport(ResponseBody):
    """The coach's findings on the current weights (training data) and the loss history."""

    step: int
    epoch: int
    rows: int = Field(description="Training rows the checks ran on.")
    findings: list[CoachFinding]


# ----- hand check ---------------------------------------------------------------------------


class CheckRequest(RequestBody):
    """A value worked out by hand for the current batch (or, with `student` or `seed`, your
    own batch: GET …/grade with the same): a weight's or a bias's gradient, or a δ; marked
    against backprop and the central difference."""

    quantity: Literal["W", "b", "delta"] = Field(
        description="W: ∂L/∂W[layer][i, j]; b: ∂L/∂b[layer][j]; delta: δ[layer][row, j]."
    )
    layer: Index
    j: Index = Field(description="The unit.")
    i: Index | None = Field(None, description="W only: the input index.")
    row: Index | None = Field(None, description="delta only: the batch row.")
    value: float
    tolerance: float = Field(0.01, gt=0, le=1, description="Relative: 0.01 is ±1 %.")
    reveal: bool = Field(False, description="Answer the chain-rule factors too.")
    student: StudentName = None
    seed: Seed = None


CHECK_EXAMPLES: dict[str, Any] = {
    "weight": {
        "summary": "∂L/∂W[1][0, 0], worked out by hand",
        "value": {"quantity": "W", "layer": 1, "i": 0, "j": 0, "value": 0.0123},
    },
    "delta": {
        "summary": "δ of unit 2 of layer 0, batch row 1, with the factors",
        "value": {
            "quantity": "delta",
            "layer": 0,
            "row": 1,
            "j": 2,
            "value": -0.05,
            "reveal": True,
        },
    },
}


class CheckFactors(ResponseBody):
    formula: str
    upstream: list[float | None] = Field(description="∂L/∂a per batch row.")
    local: list[float | None] = Field(description="f′(z) per batch row.")
    input: list[float | None] = Field(description="x per batch row (1 for a bias or a δ).")
    products: list[float | None]
    penalty: float


class CheckResult(ResponseBody):
    """Right or wrong, by how much, and why when the sign is off."""

    quantity: str
    name: str
    value: float
    backprop: float | None
    numeric: float | None = Field(description="The central difference (L(p + h) − L(p − h))/2h.")
    tolerance: float
    allowed: float | None = Field(description="tolerance × |backprop|: the ± that counts as right.")
    difference: float | None
    correct: bool
    off_by_sign: bool
    off_by_factor: float | None = Field(
        description="value ≈ this × backprop for 2, ½, n or 1/n (n: the batch's rows or "
        "targets), the slips the reason names; null otherwise. With n = 2 both readings of "
        "a factor 2 are given."
    )
    reason: str
    factors: CheckFactors | None = None
    recorded: Recorded = None
    seed: SeedUsed = None
