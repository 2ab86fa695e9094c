"""Datasets the playground trains on: the lessons' toy arrays, TF-Playground-style 2-D data, iris.

Every built-in is reproducible: the same arguments give bit-identical arrays, because all
randomness comes from one ``np.random.default_rng(seed)`` and never from global state.

The 2-D generators follow TensorFlow Playground's ``src/dataset.ts`` (circle, xor, gaussians,
spiral, plane, multi-gaussian) in its coordinates — points in about [-6, 6]² — and with its
meaning of ``noise``: TF's 0–50 % slider divided by 100, so 0.5 is TF's maximum; values up to 1
are accepted and simply push further in the same direction. TF labels points −1/+1; here binary
targets are 0/1 unless ``labels="pm1"`` asks for TF's −1/+1 (the natural targets for tanh).

Shapes: features are ``(n, n_features)`` and targets ``(n, n_outputs)``, both float64. Binary
targets have one column; multiclass targets are one-hot ``(n, n_classes)``; regression ``(n, 1)``.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, NamedTuple, get_args

import numpy as np
from numpy.typing import NDArray

Task = Literal["regression", "binary", "multiclass"]
LabelConvention = Literal["01", "pm1"]
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

MIN_SAMPLES = 4
MAX_SAMPLES = 10_000
TF_FEATURE_NAMES = ("x1", "x2")
BINARY_CLASS_NAMES = ("negative", "positive")

# A generator returns points (n, 2) and TF-style targets (n,): ±1 labels or regression values.
Generator2D = Callable[[int, float, np.random.Generator], tuple[FloatArray, FloatArray]]


@dataclass(frozen=True, eq=False)  # eq=False: NumPy arrays make field-wise == ambiguous
class Dataset:
    """A train/test split ready for training.

    x_train: (n_train, n_features) float64; y_train: (n_train, n_outputs) float64.
    x_test: (n_test, n_features); y_test: (n_test, n_outputs) — n_test may be 0.
    Binary targets are one column of 0/1 (or −1/+1 with labels="pm1"); multiclass targets are
    one-hot with n_outputs = len(class_names); regression targets are real values.
    """

    name: str
    x_train: FloatArray
    y_train: FloatArray
    x_test: FloatArray
    y_test: FloatArray
    task: Task
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...] | None
    # Uploaded data standardized with its train split's statistics: x = (raw − mean) / std,
    # per column (f,). None: the features are as given (or a built-in set's own scale).
    feature_mean: tuple[float, ...] | None = None
    feature_std: tuple[float, ...] | None = None
    # max / min of the raw columns' spreads (train split): past 100 a network given the raw
    # numbers barely learns from the small columns.
    scale_ratio: float = 1.0
    # With input features other than (x1, x2) (see FEATURES): the points on the plane,
    # (n_train, 2) and (n_test, 2), for the views drawn over it. None: x is the plane.
    plane_train: FloatArray | None = None
    plane_test: FloatArray | None = None
    # Inputs that are an image's pixels, row after row: its (rows, columns). None: not one.
    image_shape: tuple[int, int] | None = None


@dataclass(frozen=True)
class DatasetInfo:
    """What the UI needs to offer a built-in dataset before generating it."""

    name: str
    description: str
    task: Task
    n_features: int
    default_samples: int
    generated: bool  # True: honours n_samples and noise; False: fixed rows
    fixed_split: bool = False  # True: every row trains (a lesson's), train_ratio does not apply


# --------------------------------------------------------------------------- lesson data


def lesson000_data() -> tuple[FloatArray, FloatArray]:
    """Lesson 000's training set: X (4, 3) with a constant third input acting as a bias, y (4, 1).

    y is the XOR of the first two columns.
    """
    x = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.float64)
    y = np.array([[0], [1], [1], [0]], dtype=np.float64)
    return x, y


def lesson003_xor_data() -> tuple[FloatArray, FloatArray]:
    """Lesson 003's XOR arrays exactly as it writes them: x (4, 1, 2), y (4, 1, 1).

    The lesson feeds one sample at a time as a (1, n) row, hence the middle axis.
    """
    x = np.array([[[0, 0]], [[0, 1]], [[1, 0]], [[1, 1]]], dtype=np.float64)
    y = np.array([[[0]], [[1]], [[1]], [[0]]], dtype=np.float64)
    return x, y


# --------------------------------------------------------------------------- iris


def _iris_csv_path() -> Path:
    # plotly ships iris as package data; find it without importing plotly (the engine stays
    # free of plotting imports and importing plotly is slow).
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the iris dataset needs the plotly package installed (it ships the CSV)")
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    return package_dir / "package_data" / "datasets" / "iris.csv.gz"


def load_iris() -> tuple[FloatArray, IntArray, tuple[str, ...], tuple[str, ...]]:
    """Fisher's iris, read from plotly's package data.

    Returns features (150, 4) float64 in centimetres, class index (150,) int64 in 0..2,
    the 4 feature names and the 3 class names (index i names class i).
    """
    with gzip.open(_iris_csv_path(), "rt", newline="") as handle:
        rows = list(csv.DictReader(handle))
    feature_names = ("sepal_length", "sepal_width", "petal_length", "petal_width")
    # Class order = first appearance in the file, which is the conventional setosa, versicolor,
    # virginica order.
    class_names = tuple(dict.fromkeys(row["species"] for row in rows))
    features = np.array([[float(row[name]) for name in feature_names] for row in rows])
    class_index = np.array([class_names.index(row["species"]) for row in rows], dtype=np.int64)
    return features, class_index, feature_names, class_names


# --------------------------------------------------------------------------- digits

DIGITS_SIDE = 8  # the images are 8 × 8
DIGITS_CLASS_NAMES = tuple(str(digit) for digit in range(10))
DIGITS_FEATURE_NAMES = tuple(
    f"pixel_{row}_{column}" for row in range(DIGITS_SIDE) for column in range(DIGITS_SIDE)
)


def _digits_csv_path() -> Path:
    # scikit-learn's copy of the UCI set (app/vendor/README.md): 57 kB, read without
    # scikit-learn (and SciPy) at run time.
    return Path(__file__).resolve().parents[1] / "vendor" / "digits.csv.gz"


def load_digits() -> tuple[FloatArray, IntArray]:
    """The 1,797 handwritten digits, as scikit-learn's ``load_digits`` gives them: pixels
    (1797, 64) float64, each 0…16 (row after row of the 8 × 8 image), and the digit (1797,)."""
    with gzip.open(_digits_csv_path(), "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.float64)
    return table[:, :-1], table[:, -1].astype(np.int64)


def _digits_dataset(train_ratio: float, rng: np.random.Generator) -> Dataset:
    """The digits, one-hot targets, split by ``train_ratio`` and standardized with the train
    split's statistics as an upload is (kept: the page draws the images from them)."""
    pixels, digits = load_digits()
    y = one_hot(digits, len(DIGITS_CLASS_NAMES))
    x_train, y_train, x_test, y_test = split_train_test(pixels, y, train_ratio, rng)
    mean, std = train_statistics(x_train)
    return Dataset(
        "digits",
        (x_train - mean) / std,
        y_train,
        (x_test - mean) / std,
        y_test,
        "multiclass",
        DIGITS_FEATURE_NAMES,
        DIGITS_CLASS_NAMES,
        feature_mean=tuple(mean.tolist()),
        feature_std=tuple(std.tolist()),
        scale_ratio=scale_ratio(x_train),
        image_shape=(DIGITS_SIDE, DIGITS_SIDE),
    )


def train_statistics(x_train: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Per-column mean and std of the train split (n, f) -> (f,), (f,); a constant column
    (possible with a tiny train split) keeps its scale: std 1."""
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)


def scale_ratio(x_train: FloatArray) -> float:
    """How much the columns' spreads differ: max std / min std over non-constant columns."""
    spreads = x_train.std(axis=0) if len(x_train) else np.zeros(0)
    spreads = spreads[spreads > 0]
    return float(spreads.max() / spreads.min()) if spreads.size else 1.0


def _standardize_with_train_stats(
    x_train: FloatArray, x_test: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Scale both splits by the train split's per-column mean and std: (n, f) -> (n, f).

    Only train statistics are used so nothing about the test rows leaks into training.
    """
    mean, std = train_statistics(x_train)
    return (x_train - mean) / std, (x_test - mean) / std


# --------------------------------------------------------------------------- TF-style 2-D data


def _circle(n: int, noise: float, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
    """TF's classifyCircleData: half the points in a disc of radius 2.5, half in a ring 3.5–5.

    Positive (+1) means the *noisy* position lies inside radius 2.5; the clean point is kept,
    so with noise some points near the gap carry the other side's label, as in TF.
    """
    radius = 5.0
    n_inside = n - n // 2
    r = np.concatenate(
        [rng.uniform(0, radius * 0.5, n_inside), rng.uniform(radius * 0.7, radius, n // 2)]
    )
    angle = rng.uniform(0, 2 * np.pi, n)
    points = np.column_stack([r * np.sin(angle), r * np.cos(angle)])
    noisy = points + rng.uniform(-radius, radius, (n, 2)) * noise
    labels = np.where(np.hypot(noisy[:, 0], noisy[:, 1]) < radius * 0.5, 1.0, -1.0)
    return points, labels


def _xor(n: int, noise: float, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
    """TF's classifyXORData: uniform in [-5, 5]², pushed 0.3 away from both axes.

    Positive (+1) when x·y >= 0 at the noisy position, i.e. the first and third quadrants.
    """
    padding = 0.3
    points = rng.uniform(-5, 5, (n, 2))
    points += np.where(points > 0, padding, -padding)
    noisy = points + rng.uniform(-5, 5, (n, 2)) * noise
    labels = np.where(noisy[:, 0] * noisy[:, 1] >= 0, 1.0, -1.0)
    return points, labels


def _two_gaussians(n: int, noise: float, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
    """TF's classifyTwoGaussData: positives around (2, 2), negatives around (-2, -2).

    Noise widens both blobs: variance runs linearly from 0.5 (noise 0) to 4 (noise 0.5),
    continuing the same line above 0.5.
    """
    variance = 0.5 + noise * (4.0 - 0.5) / 0.5
    n_positive = n - n // 2
    centres = np.concatenate([np.full((n_positive, 2), 2.0), np.full((n // 2, 2), -2.0)])
    points = centres + rng.normal(0.0, math.sqrt(variance), (n, 2))
    labels = np.concatenate([np.ones(n_positive), -np.ones(n // 2)])
    return points, labels


def _spiral_arm(count: int, delta_t: float, noise: float, rng: np.random.Generator) -> FloatArray:
    """One arm of TF's spiral: (count, 2) points, radius growing 0 -> 5 over 1.75 turns."""
    fraction = np.arange(count) / count
    r = fraction * 5
    t = 1.75 * fraction * 2 * np.pi + delta_t
    jitter = rng.uniform(-1, 1, (count, 2)) * noise
    return np.column_stack([r * np.sin(t), r * np.cos(t)]) + jitter


def _spiral(n: int, noise: float, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
    """TF's classifySpiralData: two interleaved arms, the second rotated by π (negatives)."""
    n_positive = n - n // 2
    points = np.concatenate(
        [_spiral_arm(n_positive, 0.0, noise, rng), _spiral_arm(n // 2, np.pi, noise, rng)]
    )
    labels = np.concatenate([np.ones(n_positive), -np.ones(n // 2)])
    return points, labels


def _moons(n: int, noise: float, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
    """Two interleaving half-moons (scikit-learn's shape), scaled to TF's [-6, 6] range.

    The upper moon is positive. Noise is Gaussian jitter with std 0.5·noise in the moons' unit
    coordinates (so noise 0.5 ≈ sklearn's common noise=0.25), then everything is scaled by 4.
    """
    n_upper = n - n // 2
    t_upper = rng.uniform(0, np.pi, n_upper)
    t_lower = rng.uniform(0, np.pi, n // 2)
    upper = np.column_stack([np.cos(t_upper), np.sin(t_upper)])
    lower = np.column_stack([1 - np.cos(t_lower), 0.5 - np.sin(t_lower)])
    points = np.concatenate([upper, lower]) + rng.normal(0.0, 0.5 * noise, (n, 2))
    # Unit moons span x in [-1, 2], y in [-0.5, 1]: centre them, then x4 gives x in [-6, 6].
    points = (points - np.array([0.5, 0.25])) * 4.0
    labels = np.concatenate([np.ones(n_upper), -np.ones(n // 2)])
    return points, labels


def _uniform_points_and_noisy_copy(
    n: int, noise: float, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """TF's regression sampling: points (n, 2) uniform in [-6, 6]², and where they are read.

    The target is evaluated at the noisy position while the clean point is the input.
    """
    radius = 6.0
    points = rng.uniform(-radius, radius, (n, 2))
    noisy = points + rng.uniform(-radius, radius, (n, 2)) * noise
    return points, noisy


def _plane(n: int, noise: float, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
    """TF's regressPlane: target (x + y) / 10, i.e. in [-1.2, 1.2] without noise."""
    points, noisy = _uniform_points_and_noisy_copy(n, noise, rng)
    return points, (noisy[:, 0] + noisy[:, 1]) / 10.0


# (centre x, centre y, sign) of TF's six bumps for regressGaussian.
_GAUSSIAN_BUMPS = np.array(
    [[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]],
    dtype=np.float64,
)


def _multi_gaussian(
    n: int, noise: float, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """TF's regressGaussian: six ±1 cones of radius 2; the target (in [-1, 1]) is the bump
    with the largest magnitude at the noisy position, 0 far from every bump."""
    points, noisy = _uniform_points_and_noisy_copy(n, noise, rng)
    offsets = noisy[:, None, :] - _GAUSSIAN_BUMPS[None, :, :2]  # (n, 6, 2)
    height = np.clip(1.0 - np.hypot(offsets[..., 0], offsets[..., 1]) / 2.0, 0.0, 1.0)
    signed = height * _GAUSSIAN_BUMPS[:, 2]  # (n, 6)
    # argmax takes the first maximum, matching TF's strict ">" when two bumps tie.
    strongest = np.argmax(np.abs(signed), axis=1)
    return points, signed[np.arange(n), strongest]


# --------------------------------------------------------------------------- registry

DEFAULT_SAMPLES = 200

_GENERATORS: dict[str, Generator2D] = {
    "circle": _circle,
    "xor": _xor,
    "gaussians": _two_gaussians,
    "spiral": _spiral,
    "moons": _moons,
    "plane": _plane,
    "multi-gaussian": _multi_gaussian,
}

DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            "lesson-000",
            "Lesson 000's four rows: two inputs plus a constant 1, target is their XOR.",
            task="binary", n_features=3, default_samples=4, generated=False, fixed_split=True,
        ),
        DatasetInfo(
            "lesson-003-xor",
            "Lesson 003's XOR truth table as four 2-D rows.",
            task="binary", n_features=2, default_samples=4, generated=False, fixed_split=True,
        ),
        DatasetInfo(
            "circle",
            "A disc of one class inside a ring of the other (TF Playground).",
            task="binary", n_features=2, default_samples=DEFAULT_SAMPLES, generated=True,
        ),
        DatasetInfo(
            "xor",
            "Opposite quadrants share a class (TF Playground's exclusive or).",
            task="binary", n_features=2, default_samples=DEFAULT_SAMPLES, generated=True,
        ),
        DatasetInfo(
            "gaussians",
            "Two Gaussian blobs, one per class (TF Playground).",
            task="binary", n_features=2, default_samples=DEFAULT_SAMPLES, generated=True,
        ),
        DatasetInfo(
            "spiral",
            "Two interleaved spiral arms (TF Playground).",
            task="binary", n_features=2, default_samples=DEFAULT_SAMPLES, generated=True,
        ),
        DatasetInfo(
            "moons",
            "Two interleaving half-moons.",
            task="binary", n_features=2, default_samples=DEFAULT_SAMPLES, generated=True,
        ),
        DatasetInfo(
            "plane",
            "Regression: the target rises linearly along x1 + x2 (TF Playground).",
            task="regression", n_features=2, default_samples=DEFAULT_SAMPLES, generated=True,
        ),
        DatasetInfo(
            "multi-gaussian",
            "Regression: six positive and negative bumps (TF Playground).",
            task="regression", n_features=2, default_samples=DEFAULT_SAMPLES, generated=True,
        ),
        DatasetInfo(
            "iris",
            "Fisher's iris: 4 measurements, 3 species, 150 flowers (standardized).",
            task="multiclass", n_features=4, default_samples=150, generated=False,
        ),
        DatasetInfo(
            "digits",
            "Handwritten digits: 8 × 8 images (64 pixels, standardized), 10 classes, 1,797 "
            "images (UCI, as scikit-learn ships them).",
            task="multiclass", n_features=64, default_samples=1797, generated=False,
        ),
    )
}  # fmt: skip


# --------------------------------------------------------------------------- helpers


def one_hot(indices: NDArray[np.integer], n_classes: int) -> FloatArray:
    """Class indices (n,) in 0..n_classes-1 -> one-hot rows (n, n_classes) float64."""
    indices = np.asarray(indices)
    if indices.ndim != 1:
        raise ValueError(f"indices must be 1-D, got shape {indices.shape}")
    if n_classes < 1:
        raise ValueError(f"n_classes must be at least 1, got {n_classes}")
    if indices.size and (indices.min() < 0 or indices.max() >= n_classes):
        raise ValueError(
            f"indices must be between 0 and {n_classes - 1}, "
            f"got values from {indices.min()} to {indices.max()}"
        )
    encoded = np.zeros((indices.shape[0], n_classes), dtype=np.float64)
    encoded[np.arange(indices.shape[0]), indices] = 1.0
    return encoded


def split_train_test(
    x: FloatArray, y: FloatArray, train_ratio: float, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Shuffle rows with rng, then cut: x (n, f), y (n, k) -> x_train, y_train, x_test, y_test.

    n_train = round(n · train_ratio), but at least 1 so there is always something to train on.
    """
    _check_train_ratio(train_ratio)
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x and y must have the same number of rows, got {x.shape[0]} and {y.shape[0]}"
        )
    if x.shape[0] < 1:
        raise ValueError("x must have at least 1 row")
    order = rng.permutation(x.shape[0])
    n_train = max(1, round(x.shape[0] * train_ratio))
    train, test = order[:n_train], order[n_train:]
    return x[train], y[train], x[test], y[test]


def _check_train_ratio(train_ratio: float) -> None:
    if not 0 < train_ratio <= 1:
        raise ValueError(f"train_ratio must be in (0, 1], got {train_ratio}")


def _binary_targets(labels_pm1: FloatArray, labels: LabelConvention) -> FloatArray:
    """TF-style ±1 labels (n,) -> one target column (n, 1) in the requested convention."""
    column = labels_pm1.reshape(-1, 1).astype(np.float64)
    return column if labels == "pm1" else (column > 0).astype(np.float64)


def _check_make_arguments(
    name: str, n_samples: int | None, noise: float, train_ratio: float, labels: str
) -> None:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
    if n_samples is not None and (
        isinstance(n_samples, bool)
        or not isinstance(n_samples, int | np.integer)
        or not MIN_SAMPLES <= n_samples <= MAX_SAMPLES
    ):
        raise ValueError(
            f"n_samples must be an integer between {MIN_SAMPLES} and {MAX_SAMPLES}, "
            f"got {n_samples!r}"
        )
    if not 0 <= noise <= 1:  # NaN fails both comparisons, so it is rejected too
        raise ValueError(f"noise must be between 0 and 1, got {noise}")
    _check_train_ratio(train_ratio)
    if labels not in get_args(LabelConvention):
        raise ValueError(f"labels must be '01' or 'pm1', got {labels!r}")


# --------------------------------------------------------------------------- builders


def make_dataset(
    name: str,
    *,
    n_samples: int | None = None,
    noise: float = 0.0,
    train_ratio: float = 0.5,
    seed: int = 0,
    labels: LabelConvention = "01",
) -> Dataset:
    """Build a built-in dataset (see DATASETS) reproducibly from seed.

    n_samples (default DATASETS[name].default_samples) and noise apply to generated datasets
    only; the lesson datasets are returned whole as training data, in their written order;
    iris always has 150 rows, split by train_ratio and standardized with train statistics.
    """
    _check_make_arguments(name, n_samples, noise, train_ratio, labels)
    if name == "lesson-000":
        return _all_train(name, *lesson000_data(), ("x1", "x2", "bias"), labels)
    if name == "lesson-003-xor":
        x, y = lesson003_xor_data()
        return _all_train(name, x.reshape(4, 2), y.reshape(4, 1), ("x1", "x2"), labels)
    rng = np.random.default_rng(seed)
    if name == "iris":
        return _iris_dataset(train_ratio, rng)
    if name == "digits":
        return _digits_dataset(train_ratio, rng)
    info = DATASETS[name]
    n = info.default_samples if n_samples is None else n_samples
    points, targets = _GENERATORS[name](n, noise, rng)
    if info.task == "binary":
        y = _binary_targets(targets, labels)
        class_names: tuple[str, ...] | None = BINARY_CLASS_NAMES
    else:
        y, class_names = targets.reshape(-1, 1), None
    x_train, y_train, x_test, y_test = split_train_test(points, y, train_ratio, rng)
    return Dataset(name, x_train, y_train, x_test, y_test, info.task, TF_FEATURE_NAMES, class_names)


# --------------------------------------------------------------------------- input features


class Feature(NamedTuple):
    """An input feature of a point (x1, x2) on the plane: the label its column is given (the
    dataset's ``feature_names``), its formula in words, and the column of points (n, 2)."""

    label: str
    formula: str
    column: Callable[[FloatArray], FloatArray]


# TF Playground's inputs over the plane (x1, x2), by name (``data.features``). The page computes
# them too, for its boundary (static/js/forward.js, held equal by tests/browser/test_forward_js.py).
FEATURES: dict[str, Feature] = {
    "x1": Feature("x1", "x1", lambda p: p[:, 0]),
    "x2": Feature("x2", "x2", lambda p: p[:, 1]),
    "x1_squared": Feature("x1²", "x1 · x1", lambda p: p[:, 0] ** 2),
    "x2_squared": Feature("x2²", "x2 · x2", lambda p: p[:, 1] ** 2),
    "x1_x2": Feature("x1·x2", "x1 · x2", lambda p: p[:, 0] * p[:, 1]),
    "sin_x1": Feature("sin x1", "sin(x1)", lambda p: np.sin(p[:, 0])),
    "sin_x2": Feature("sin x2", "sin(x2)", lambda p: np.sin(p[:, 1])),
}
PLANE_FEATURES = ("x1", "x2")


def feature_columns(points: FloatArray, names: Sequence[str]) -> FloatArray:
    """The chosen features of points on the plane: (n, 2) -> (n, len(names))."""
    return np.stack([FEATURES[name].column(points) for name in names], axis=1)


# The grid a view of the plane is drawn on spans the points plus this fraction of each axis's
# span on either side (TF Playground's plots leave the same room), and at least
# GRID_LEAST_MARGIN, so a set whose points share one coordinate still spans an interval. The
# page draws its boundary with these numbers, given by the server (app/api/pages.py).
GRID_MARGIN = 0.05
GRID_LEAST_MARGIN = 1e-9


@dataclass(frozen=True, eq=False)
class Plane:
    """The plane a dataset's points lie on, and how a point becomes the network's inputs.

    axes: the names of its two coordinates; points: every row's point, train then test,
    (n_train + n_test, 2); features: the FEATURES the inputs are of a point, or None when the
    inputs are the point itself.
    """

    axes: tuple[str, str]
    points: FloatArray
    features: tuple[str, ...] | None

    def inputs(self, points: FloatArray) -> FloatArray:
        """Points on the plane (n, 2) -> the network's inputs (n, n_inputs)."""
        return points if self.features is None else feature_columns(points, self.features)

    def grid_axes(self, resolution: int) -> tuple[FloatArray, FloatArray]:
        """Each axis's ``resolution`` values over the points' extent plus the margin."""
        low, high = self.points.min(axis=0), self.points.max(axis=0)
        margin = (high - low) * GRID_MARGIN + GRID_LEAST_MARGIN
        xs = np.linspace(low[0] - margin[0], high[0] + margin[0], resolution)
        ys = np.linspace(low[1] - margin[1], high[1] + margin[1], resolution)
        return xs, ys


FEATURE_BY_LABEL = {feature.label: name for name, feature in FEATURES.items()}


def plane_of(dataset: Dataset) -> Plane | None:
    """The dataset's plane: its points with the features its columns are of them (see
    ``with_features``), or its own two columns; None when the inputs are no plane's (Iris's
    four columns, an upload's three, features the table does not know)."""
    if dataset.plane_train is not None and dataset.plane_test is not None:
        features = [FEATURE_BY_LABEL.get(label) for label in dataset.feature_names]
        if any(name is None for name in features):
            return None
        points = np.vstack([dataset.plane_train, dataset.plane_test])
        axes = (FEATURES["x1"].label, FEATURES["x2"].label)
        return Plane(axes, points, tuple(name for name in features if name is not None))
    if len(dataset.feature_names) != 2:
        return None
    points = np.vstack([dataset.x_train, dataset.x_test])
    return Plane((dataset.feature_names[0], dataset.feature_names[1]), points, None)


def with_features(dataset: Dataset, names: Sequence[str]) -> Dataset:
    """A 2-D dataset with TF Playground's input features instead of (x1, x2), in FEATURES'
    order; ValueError for an unknown or repeated name, or data that is not on a plane."""
    unknown = [name for name in names if name not in FEATURES]
    if unknown:
        raise ValueError(f"unknown feature {unknown[0]!r}; choose from: {', '.join(FEATURES)}")
    if not names or len(set(names)) != len(names):
        raise ValueError("features: give each feature once, at least one")
    if dataset.x_train.shape[1] != len(PLANE_FEATURES) or dataset.plane_train is not None:
        raise ValueError("features apply to the 2-D datasets (x1, x2) only")
    chosen = [name for name in FEATURES if name in names]
    return replace(
        dataset,
        x_train=feature_columns(dataset.x_train, chosen),
        x_test=feature_columns(dataset.x_test, chosen),
        feature_names=tuple(FEATURES[name].label for name in chosen),
        plane_train=dataset.x_train,
        plane_test=dataset.x_test,
    )


def _all_train(
    name: str, x: FloatArray, y01: FloatArray, feature_names: tuple[str, ...], labels: str
) -> Dataset:
    """A lesson dataset: every row is training data, test sets are empty (0, f) and (0, 1)."""
    y = 2.0 * y01 - 1.0 if labels == "pm1" else y01
    return Dataset(
        name=name,
        x_train=x,
        y_train=y,
        x_test=np.empty((0, x.shape[1])),
        y_test=np.empty((0, y.shape[1])),
        task="binary",
        feature_names=feature_names,
        class_names=("0", "1"),
    )


def _iris_dataset(train_ratio: float, rng: np.random.Generator) -> Dataset:
    features, class_index, feature_names, class_names = load_iris()
    y = one_hot(class_index, len(class_names))
    x_train, y_train, x_test, y_test = split_train_test(features, y, train_ratio, rng)
    x_train, x_test = _standardize_with_train_stats(x_train, x_test)
    return Dataset(
        "iris", x_train, y_train, x_test, y_test, "multiclass", feature_names, class_names
    )


def from_arrays(
    name: str,
    features: NDArray[np.generic],
    targets: NDArray[np.generic],
    *,
    task: Task,
    train_ratio: float = 0.8,
    seed: int = 0,
    feature_names: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
    standardize: bool = False,
    labels: LabelConvention = "01",
    shuffle: bool = True,
) -> Dataset:
    """Build a Dataset from user arrays (e.g. an uploaded CSV), shuffled and split by seed.

    standardize: scale each feature column by the train split's mean and std (recorded in
    ``feature_mean`` and ``feature_std``), so columns in different units (cm, kg) learn alike.
    labels: binary targets as 0/1, or "pm1" for −1/+1 (class 0 → −1, class 1 → +1: a file's
    own −1/+1 labels kept, the natural targets of a tanh output with the square loss).
    shuffle: rows shuffled by seed before the cut; False keeps the given order (the first
    round(n · train_ratio) rows train). With train_ratio 1 nothing is cut, so nothing is
    shuffled either: the rows keep their order (each epoch's order is the model's shuffle).

    features: (n, f). targets: (n,) or (n, k) for regression; (n,) or (n, 1) of 0/1 for binary
    (-> (n, 1)); (n,) or (n, 1) class indices 0..k-1 for multiclass (-> one-hot (n, k), where k
    is len(class_names) if given, else the largest index + 1).
    """
    if task not in get_args(Task):
        raise ValueError(f"task must be one of {', '.join(get_args(Task))}, got {task!r}")
    _check_train_ratio(train_ratio)
    x = _as_float_array("features", features)
    if x.ndim != 2:
        raise ValueError(f"features must be 2-D (rows, columns), got shape {x.shape}")
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"features must have at least 1 row and 1 column, got shape {x.shape}")
    t = _as_float_array("targets", targets)
    if t.ndim not in (1, 2) or t.shape[0] != x.shape[0]:
        raise ValueError(
            f"targets must have the same number of rows as features ({x.shape[0]}), "
            f"got shape {t.shape}"
        )
    names = _feature_names(feature_names, x.shape[1])
    _check_finite("features", x)
    _check_finite("targets", t.reshape(t.shape[0], -1))
    if labels not in get_args(LabelConvention):
        raise ValueError(f"labels must be '01' or 'pm1', got {labels!r}")
    if labels == "pm1" and task != "binary":
        raise ValueError(f"labels 'pm1' applies to binary targets, not {task}")
    y, classes = _encode_targets(t, task, class_names)
    if labels == "pm1":
        y = 2.0 * y - 1.0
    if shuffle and train_ratio < 1:
        rng = np.random.default_rng(seed)
        x_train, y_train, x_test, y_test = split_train_test(x, y, train_ratio, rng)
    else:
        n_train = max(1, round(x.shape[0] * train_ratio))
        x_train, y_train, x_test, y_test = x[:n_train], y[:n_train], x[n_train:], y[n_train:]
    ratio = scale_ratio(x_train)
    if not standardize:
        return Dataset(
            name, x_train, y_train, x_test, y_test, task, names, classes, scale_ratio=ratio
        )
    mean, std = train_statistics(x_train)
    return Dataset(
        name,
        (x_train - mean) / std,
        y_train,
        (x_test - mean) / std,
        y_test,
        task,
        names,
        classes,
        feature_mean=tuple(float(v) for v in mean),
        feature_std=tuple(float(v) for v in std),
        scale_ratio=ratio,
    )


def _as_float_array(parameter: str, values: NDArray[np.generic]) -> FloatArray:
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{parameter} must be numeric: {error}") from error


def _feature_names(names: Sequence[str] | None, n_features: int) -> tuple[str, ...]:
    if names is None:
        return tuple(f"x{i + 1}" for i in range(n_features))
    if len(names) != n_features:
        raise ValueError(
            f"feature_names must have one name per column ({n_features}), got {len(names)}"
        )
    return tuple(names)


def _check_finite(parameter: str, values: FloatArray) -> None:
    """Raise naming the first (row, column) that is NaN or ±inf; values is (n, m)."""
    bad = np.argwhere(~np.isfinite(values))
    if bad.size:
        row, column = (int(i) for i in bad[0])
        raise ValueError(
            f"{parameter} must be finite, but row {row}, column {column} (0-based) is "
            f"{values[row, column]} ({len(bad)} non-finite value(s) in total)"
        )


def _encode_targets(
    targets: FloatArray, task: Task, class_names: Sequence[str] | None
) -> tuple[FloatArray, tuple[str, ...] | None]:
    """Targets (n,) or (n, k) -> training targets (n, n_outputs) and the class names."""
    if task == "regression":
        if class_names is not None:
            raise ValueError("class_names only applies to binary or multiclass tasks")
        return targets.reshape(targets.shape[0], -1), None
    indices = _class_indices(targets)
    if task == "binary":
        if indices.size and indices.max() > 1:
            raise ValueError(f"binary targets must be 0 or 1, got {indices.max()}")
        names = _class_names(class_names, 2)
        return indices.reshape(-1, 1).astype(np.float64), names
    n_classes = len(class_names) if class_names is not None else int(indices.max()) + 1
    if n_classes < 2:
        raise ValueError(f"multiclass targets need at least 2 classes, got {n_classes}")
    if indices.max() >= n_classes:
        raise ValueError(
            f"targets must be class indices below len(class_names) = {n_classes}, "
            f"got {indices.max()}"
        )
    return one_hot(indices, n_classes), _class_names(class_names, n_classes)


def _class_indices(targets: FloatArray) -> IntArray:
    """Class targets (n,) or (n, 1) -> integer indices (n,), rejecting fractions and negatives."""
    if targets.ndim == 2 and targets.shape[1] != 1:
        raise ValueError(
            f"class targets must be one column of class indices, got shape {targets.shape}"
        )
    flat = targets.reshape(-1)
    bad = np.flatnonzero((flat < 0) | (flat != np.round(flat)))
    if bad.size:
        raise ValueError(
            "targets must be non-negative integer class indices, "
            f"but row {bad[0]} is {flat[bad[0]]}"
        )
    return flat.astype(np.int64)


def _class_names(names: Sequence[str] | None, n_classes: int) -> tuple[str, ...]:
    if names is None:
        return tuple(str(i) for i in range(n_classes))
    if len(names) != n_classes:
        raise ValueError(f"class_names must have {n_classes} names, got {len(names)}")
    return tuple(names)
