"""Tests for app.engine.datasets: built-ins, lesson arrays, iris, user arrays, validation."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pytest

from app.engine.datasets import (
    DATASETS,
    Dataset,
    from_arrays,
    lesson000_data,
    lesson003_xor_data,
    load_iris,
    make_dataset,
    one_hot,
    split_train_test,
)

GENERATED = [name for name, info in DATASETS.items() if info.generated]
SEEDED = [*GENERATED, "iris"]  # everything whose rows depend on the seed
BINARY = [name for name, info in DATASETS.items() if info.task == "binary"]
TF_BINARY = [name for name in GENERATED if DATASETS[name].task == "binary"]


def all_rows(dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Train and test stacked back together: (n, f) and (n, k)."""
    return np.vstack([dataset.x_train, dataset.x_test]), np.vstack(
        [dataset.y_train, dataset.y_test]
    )


def test_registry_lists_every_builtin() -> None:
    assert set(DATASETS) == {
        "lesson-000",
        "lesson-003-xor",
        "circle",
        "xor",
        "gaussians",
        "spiral",
        "moons",
        "plane",
        "multi-gaussian",
        "iris",
        "digits",
    }
    assert all(info.name == name for name, info in DATASETS.items())


# --------------------------------------------------------------------------- shapes and dtypes


@pytest.mark.parametrize("name", list(DATASETS))
def test_builtin_shapes_dtypes_and_task_match_registry(name: str) -> None:
    info = DATASETS[name]
    dataset = make_dataset(name)
    classes = {"iris": 3, "digits": 10}  # a multiclass set's classes
    n_outputs = classes[name] if info.task == "multiclass" else 1

    assert dataset.name == name
    assert dataset.task == info.task
    for array in (dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test):
        assert array.dtype == np.float64
        assert array.ndim == 2
    assert dataset.x_train.shape[1] == dataset.x_test.shape[1] == info.n_features
    assert dataset.y_train.shape[1] == dataset.y_test.shape[1] == n_outputs
    assert dataset.x_train.shape[0] == dataset.y_train.shape[0]
    assert dataset.x_test.shape[0] == dataset.y_test.shape[0]
    assert dataset.x_train.shape[0] + dataset.x_test.shape[0] == info.default_samples
    assert len(dataset.feature_names) == info.n_features


@pytest.mark.parametrize("name", list(DATASETS))
def test_class_names_only_for_classification(name: str) -> None:
    dataset = make_dataset(name)
    if dataset.task == "regression":
        assert dataset.class_names is None
    else:
        assert dataset.class_names is not None
        assert len(dataset.class_names) == max(2, dataset.y_train.shape[1])


@pytest.mark.parametrize("name", GENERATED)
@pytest.mark.parametrize("n_samples", [4, 7, 501])
def test_generated_datasets_honour_n_samples_exactly(name: str, n_samples: int) -> None:
    dataset = make_dataset(name, n_samples=n_samples)
    assert dataset.x_train.shape[0] + dataset.x_test.shape[0] == n_samples


@pytest.mark.parametrize("name", ["lesson-000", "lesson-003-xor", "iris"])
def test_fixed_datasets_ignore_n_samples_and_noise(name: str) -> None:
    plain = make_dataset(name)
    other = make_dataset(name, n_samples=40, noise=0.9)
    assert np.array_equal(all_rows(plain)[0], all_rows(other)[0])
    assert np.array_equal(all_rows(plain)[1], all_rows(other)[1])


@pytest.mark.parametrize("name", TF_BINARY)
def test_tf_points_stay_in_tf_coordinates(name: str) -> None:
    x, _ = all_rows(make_dataset(name, noise=0.5, n_samples=1000))
    assert np.abs(x).max() <= 12  # the gaussians' tails reach past 6 at TF's widest
    assert np.abs(x).max() >= 4  # and they really use the [-6, 6] range, not [-1, 1]


# --------------------------------------------------------------------------- reproducibility


@pytest.mark.parametrize("name", SEEDED)
def test_same_arguments_give_bit_identical_arrays(name: str) -> None:
    first = make_dataset(name, noise=0.3, seed=7, train_ratio=0.6)
    second = make_dataset(name, noise=0.3, seed=7, train_ratio=0.6)
    for field in ("x_train", "y_train", "x_test", "y_test"):
        assert np.array_equal(getattr(first, field), getattr(second, field))


@pytest.mark.parametrize("name", SEEDED)
def test_different_seed_gives_different_data(name: str) -> None:
    first = make_dataset(name, noise=0.3, seed=1)
    second = make_dataset(name, noise=0.3, seed=2)
    assert not np.array_equal(first.x_train, second.x_train)


def test_global_numpy_random_state_is_neither_used_nor_changed() -> None:
    np.random.seed(123)
    first = make_dataset("spiral", noise=0.4)
    draw_after_dataset = np.random.random()
    np.random.seed(999)
    second = make_dataset("spiral", noise=0.4)
    assert np.array_equal(first.x_train, second.x_train)
    np.random.seed(123)
    assert np.random.random() == draw_after_dataset


# --------------------------------------------------------------------------- train/test split


@pytest.mark.parametrize(
    ("train_ratio", "expected_train"), [(0.5, 50), (0.7, 70), (1.0, 100), (0.001, 1)]
)
def test_train_ratio_sets_split_sizes(train_ratio: float, expected_train: int) -> None:
    dataset = make_dataset("xor", n_samples=100, train_ratio=train_ratio)
    assert dataset.x_train.shape[0] == expected_train
    assert dataset.x_test.shape[0] == 100 - expected_train


def test_iris_split_follows_train_ratio() -> None:
    dataset = make_dataset("iris", train_ratio=0.8)
    assert dataset.x_train.shape == (120, 4)
    assert dataset.x_test.shape == (30, 4)


def test_split_keeps_rows_paired_and_shuffles() -> None:
    x = np.arange(20, dtype=np.float64).reshape(10, 2)
    y = x[:, :1] * 10
    x_train, y_train, x_test, y_test = split_train_test(x, y, 0.6, np.random.default_rng(0))
    assert x_train.shape == (6, 2) and x_test.shape == (4, 2)
    assert np.array_equal(y_train, x_train[:, :1] * 10)
    assert np.array_equal(y_test, x_test[:, :1] * 10)
    assert sorted(np.vstack([x_train, x_test])[:, 0]) == sorted(x[:, 0])
    assert not np.array_equal(np.vstack([x_train, x_test]), x)


def test_split_rejects_bad_ratio_and_mismatched_rows() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"train_ratio must be in \(0, 1\], got 0"):
        split_train_test(np.zeros((3, 1)), np.zeros((3, 1)), 0, rng)
    with pytest.raises(ValueError, match="same number of rows, got 3 and 2"):
        split_train_test(np.zeros((3, 1)), np.zeros((2, 1)), 0.5, rng)


# --------------------------------------------------------------------------- label conventions


@pytest.mark.parametrize("name", BINARY)
def test_binary_labels_default_to_zero_one(name: str) -> None:
    _, y = all_rows(make_dataset(name))
    assert set(np.unique(y)) == {0.0, 1.0}


@pytest.mark.parametrize("name", BINARY)
def test_pm1_labels_are_the_same_classes_as_minus_one_plus_one(name: str) -> None:
    zero_one = make_dataset(name, noise=0.2, labels="01")
    plus_minus = make_dataset(name, noise=0.2, labels="pm1")
    assert set(np.unique(all_rows(plus_minus)[1])) == {-1.0, 1.0}
    assert np.array_equal(all_rows(plus_minus)[0], all_rows(zero_one)[0])
    assert np.array_equal(all_rows(plus_minus)[1], 2 * all_rows(zero_one)[1] - 1)


@pytest.mark.parametrize("name", ["plane", "iris"])
def test_labels_convention_leaves_non_binary_targets_alone(name: str) -> None:
    assert np.array_equal(
        make_dataset(name, labels="pm1").y_train, make_dataset(name, labels="01").y_train
    )


@pytest.mark.parametrize("name", ["circle", "gaussians", "spiral", "moons"])
def test_tf_binary_classes_are_balanced(name: str) -> None:
    _, y = all_rows(make_dataset(name, n_samples=200, noise=0.0))
    assert y.sum() == 100


# --------------------------------------------------------------------------- TF geometry


def test_circle_without_noise_is_positive_exactly_inside_radius_2_5() -> None:
    x, y = all_rows(make_dataset("circle", n_samples=1000, noise=0.0))
    radius = np.hypot(x[:, 0], x[:, 1])
    assert np.array_equal(y[:, 0] == 1, radius < 2.5)
    assert radius[y[:, 0] == 0].min() >= 3.5  # the ring starts at 0.7 · 5
    assert radius.max() <= 5


def test_circle_noise_flips_labels_near_the_gap_like_tf() -> None:
    x, y = all_rows(make_dataset("circle", n_samples=1000, noise=0.5))
    inside = np.hypot(x[:, 0], x[:, 1]) < 2.5
    assert np.any(y[:, 0] != inside)  # labels come from the noisy position, points stay clean


def test_xor_without_noise_labels_quadrants() -> None:
    x, y = all_rows(make_dataset("xor", n_samples=1000, noise=0.0))
    same_sign = x[:, 0] * x[:, 1] >= 0
    assert np.array_equal(y[:, 0] == 1, same_sign)
    assert np.abs(x).min() >= 0.3  # TF's padding keeps points off the axes
    assert np.abs(x).max() <= 5.3


def test_gaussians_sit_at_plus_and_minus_two() -> None:
    x, y = all_rows(make_dataset("gaussians", n_samples=2000, noise=0.0))
    positive, negative = x[y[:, 0] == 1], x[y[:, 0] == 0]
    assert np.allclose(positive.mean(axis=0), [2, 2], atol=0.1)
    assert np.allclose(negative.mean(axis=0), [-2, -2], atol=0.1)
    assert np.allclose(positive.var(axis=0), 0.5, atol=0.1)  # TF's variance at noise 0


def test_gaussians_noise_widens_the_blobs() -> None:
    x, y = all_rows(make_dataset("gaussians", n_samples=2000, noise=0.5))
    assert np.allclose(x[y[:, 0] == 1].var(axis=0), 4.0, rtol=0.15)  # TF's variance at 50 %


def test_spiral_without_noise_reaches_radius_five() -> None:
    x, _ = all_rows(make_dataset("spiral", n_samples=400, noise=0.0))
    radius = np.hypot(x[:, 0], x[:, 1])
    assert radius.min() == 0
    assert 4.9 < radius.max() < 5


def test_moons_are_separable_at_noise_zero() -> None:
    x, y = all_rows(make_dataset("moons", n_samples=400, noise=0.0))
    upper, lower = x[y[:, 0] == 1], x[y[:, 0] == 0]
    # Upper moon: circle of radius 4 around (-2, -1); lower: radius 4 around (2, 1).
    assert np.allclose(np.hypot(upper[:, 0] + 2, upper[:, 1] + 1), 4)
    assert np.allclose(np.hypot(lower[:, 0] - 2, lower[:, 1] - 1), 4)
    assert np.allclose(np.abs(x).max(axis=0), [6, 3], atol=0.1)


def test_plane_without_noise_is_x_plus_y_over_ten() -> None:
    x, y = all_rows(make_dataset("plane", noise=0.0))
    assert np.allclose(y[:, 0], (x[:, 0] + x[:, 1]) / 10)
    assert np.abs(y).max() <= 1.2


def test_multi_gaussian_targets_stay_in_minus_one_to_one() -> None:
    for noise in (0.0, 1.0):
        _, y = all_rows(make_dataset("multi-gaussian", n_samples=2000, noise=noise))
        assert np.abs(y).max() <= 1
        assert y.min() < -0.5 and y.max() > 0.5  # both signs of bump are present


def test_multi_gaussian_sign_near_bump_centres() -> None:
    x, y = all_rows(make_dataset("multi-gaussian", n_samples=4000, noise=0.0))
    near_positive = np.hypot(x[:, 0] + 4, x[:, 1] - 2.5) < 0.5  # bump (-4, 2.5, +1)
    near_negative = np.hypot(x[:, 0], x[:, 1] - 2.5) < 0.5  # bump (0, 2.5, -1)
    assert np.all(y[near_positive, 0] > 0.7)
    assert np.all(y[near_negative, 0] < -0.7)


# --------------------------------------------------------------------------- lesson data


def test_lesson000_data_is_exactly_the_lesson_arrays() -> None:
    x, y = lesson000_data()
    assert x.shape == (4, 3) and y.shape == (4, 1)
    assert np.array_equal(x, [[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
    assert np.array_equal(y, [[0], [1], [1], [0]])


def test_lesson003_xor_data_keeps_the_lessons_middle_axis() -> None:
    x, y = lesson003_xor_data()
    assert x.shape == (4, 1, 2) and y.shape == (4, 1, 1)
    assert np.array_equal(x, [[[0, 0]], [[0, 1]], [[1, 0]], [[1, 1]]])
    assert np.array_equal(y, [[[0]], [[1]], [[1]], [[0]]])


@pytest.mark.parametrize(
    ("name", "rows"),
    [("lesson-000", lesson000_data), ("lesson-003-xor", lesson003_xor_data)],
)
def test_lesson_datasets_are_all_train_in_written_order(
    name: str, rows: Callable[[], tuple[np.ndarray, np.ndarray]]
) -> None:
    x, y = rows()
    dataset = make_dataset(name, train_ratio=0.5, seed=3)
    assert np.array_equal(dataset.x_train, x.reshape(4, -1))
    assert np.array_equal(dataset.y_train, y.reshape(4, 1))
    assert dataset.x_test.shape == (0, x.shape[-1])
    assert dataset.y_test.shape == (0, 1)


# --------------------------------------------------------------------------- iris


def test_load_iris_has_150_rows_of_three_balanced_classes() -> None:
    features, classes, feature_names, class_names = load_iris()
    assert features.shape == (150, 4) and features.dtype == np.float64
    assert classes.shape == (150,) and np.issubdtype(classes.dtype, np.integer)
    assert np.array_equal(np.bincount(classes), [50, 50, 50])
    assert class_names == ("setosa", "versicolor", "virginica")
    assert feature_names == ("sepal_length", "sepal_width", "petal_length", "petal_width")
    assert np.array_equal(features[0], [5.1, 3.5, 1.4, 0.2])  # the first flower in every copy
    assert classes[0] == 0


def test_iris_dataset_is_one_hot_with_three_classes_of_fifty() -> None:
    _, y = all_rows(make_dataset("iris"))
    assert np.array_equal(np.unique(y), [0.0, 1.0])
    assert np.array_equal(y.sum(axis=1), np.ones(150))
    assert np.array_equal(y.sum(axis=0), [50, 50, 50])


def test_iris_train_features_are_standardized() -> None:
    dataset = make_dataset("iris", train_ratio=0.8, seed=5)
    assert np.allclose(dataset.x_train.mean(axis=0), 0, atol=1e-12)
    assert np.allclose(dataset.x_train.std(axis=0), 1)
    assert not np.allclose(dataset.x_test.mean(axis=0), 0, atol=1e-3)  # not its own stats


def test_iris_test_rows_use_the_train_rows_scaling() -> None:
    dataset = make_dataset("iris", train_ratio=0.8, seed=5)
    raw, _, _, _ = load_iris()
    standardized = np.vstack([dataset.x_train, dataset.x_test])
    for column in range(4):
        # One increasing affine map per column must send the raw values to all 150
        # standardized ones; standardizing test by its own stats would break that.
        scale, shift = np.polyfit(np.sort(raw[:, column]), np.sort(standardized[:, column]), 1)
        fitted = scale * np.sort(raw[:, column]) + shift
        assert np.allclose(fitted, np.sort(standardized[:, column]))


def test_iris_with_every_row_in_train_has_empty_test() -> None:
    dataset = make_dataset("iris", train_ratio=1.0)
    assert dataset.x_train.shape == (150, 4)
    assert dataset.x_test.shape == (0, 4) and dataset.y_test.shape == (0, 3)


# --------------------------------------------------------------------------- one_hot


def test_one_hot_encodes_indices_as_rows() -> None:
    encoded = one_hot(np.array([2, 0, 1]), 3)
    assert encoded.dtype == np.float64
    assert np.array_equal(encoded, [[0, 0, 1], [1, 0, 0], [0, 1, 0]])


def test_one_hot_rejects_out_of_range_indices() -> None:
    with pytest.raises(ValueError, match="indices must be between 0 and 1, got values from 0 to 2"):
        one_hot(np.array([0, 2]), 2)


# --------------------------------------------------------------------------- from_arrays


def test_from_arrays_multiclass_indices_become_one_hot() -> None:
    features = np.arange(12, dtype=np.float64).reshape(6, 2)
    dataset = from_arrays(
        "upload", features, np.array([0, 1, 2, 0, 1, 2]), task="multiclass", train_ratio=1.0
    )
    assert dataset.y_train.shape == (6, 3)
    assert dataset.class_names == ("0", "1", "2")
    assert dataset.feature_names == ("x1", "x2")
    # Each row's one-hot class is still the one given for that feature row.
    original_class = (dataset.x_train[:, 0] / 2).astype(int) % 3
    assert np.array_equal(dataset.y_train.argmax(axis=1), original_class)


def test_from_arrays_binary_targets_become_one_column() -> None:
    dataset = from_arrays(
        "upload",
        np.zeros((10, 3)),
        np.array([0, 1] * 5),
        task="binary",
        feature_names=["a", "b", "c"],
        class_names=["no", "yes"],
    )
    assert dataset.x_train.shape == (8, 3) and dataset.x_test.shape == (2, 3)
    assert dataset.y_train.shape == (8, 1)
    assert dataset.feature_names == ("a", "b", "c")
    assert dataset.class_names == ("no", "yes")


def test_from_arrays_regression_keeps_multiple_outputs() -> None:
    dataset = from_arrays("upload", np.ones((5, 2)), np.ones((5, 2)), task="regression")
    assert dataset.y_train.shape == (4, 2) and dataset.class_names is None


def test_from_arrays_is_reproducible_by_seed() -> None:
    features = np.arange(40, dtype=np.float64).reshape(20, 2)
    targets = np.arange(20, dtype=np.float64)
    first = from_arrays("u", features, targets, task="regression", seed=4)
    second = from_arrays("u", features, targets, task="regression", seed=4)
    third = from_arrays("u", features, targets, task="regression", seed=5)
    assert np.array_equal(first.x_train, second.x_train)
    assert not np.array_equal(first.x_train, third.x_train)


def test_from_arrays_names_the_row_and_column_of_a_nan() -> None:
    features = np.ones((4, 3))
    features[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"features must be finite, but row 2, column 1 .* is nan"):
        from_arrays("u", features, np.zeros(4), task="regression")


def test_from_arrays_names_the_row_of_an_infinite_target() -> None:
    targets = np.zeros(4)
    targets[3] = np.inf
    with pytest.raises(ValueError, match=r"targets must be finite, but row 3, column 0 .* is inf"):
        from_arrays("u", np.ones((4, 2)), targets, task="regression")


def test_from_arrays_rejects_mismatched_row_counts() -> None:
    with pytest.raises(
        ValueError, match=r"same number of rows as features \(5\), got shape \(4,\)"
    ):
        from_arrays("u", np.ones((5, 2)), np.zeros(4), task="regression")


@pytest.mark.parametrize(
    ("features", "message"),
    [
        (np.ones(5), "features must be 2-D"),
        (np.ones((0, 2)), "features must have at least 1 row"),
        (np.array([["a", "b"]]), "features must be numeric"),
    ],
)
def test_from_arrays_rejects_malformed_features(features: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        from_arrays("u", features, np.zeros(len(features)), task="regression")


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        (np.array([0, 1, -1, 2]), "non-negative integer class indices, but row 2 is -1"),
        (np.array([0, 1, 1.5, 2]), "non-negative integer class indices, but row 2 is 1.5"),
        (np.zeros(4), "at least 2 classes"),
        (np.ones((4, 3)), "one column of class indices"),
    ],
)
def test_from_arrays_rejects_bad_class_indices(targets: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        from_arrays("u", np.ones((4, 2)), targets, task="multiclass")


def test_from_arrays_rejects_index_beyond_class_names() -> None:
    with pytest.raises(ValueError, match=r"below len\(class_names\) = 2, got 2"):
        from_arrays("u", np.ones((3, 1)), np.array([0, 1, 2]), task="multiclass", class_names="ab")


def test_from_arrays_rejects_binary_targets_other_than_zero_one() -> None:
    with pytest.raises(ValueError, match="binary targets must be 0 or 1, got 2"):
        from_arrays("u", np.ones((3, 1)), np.array([0, 1, 2]), task="binary")


def test_from_arrays_rejects_wrong_number_of_feature_names() -> None:
    with pytest.raises(ValueError, match=r"one name per column \(2\), got 1"):
        from_arrays("u", np.ones((3, 2)), np.zeros(3), task="regression", feature_names=["a"])


def test_from_arrays_rejects_unknown_task() -> None:
    with pytest.raises(ValueError, match="task must be one of regression, binary, multiclass"):
        from_arrays("u", np.ones((3, 2)), np.zeros(3), task="clustering")  # type: ignore[arg-type]


# ------------------------------------------------------------------------ make_dataset validation


def test_unknown_name_lists_the_known_names() -> None:
    with pytest.raises(ValueError, match="unknown dataset 'donut'") as error:
        make_dataset("donut")
    assert all(name in str(error.value) for name in DATASETS)


@pytest.mark.parametrize("n_samples", [3, 10_001, 0, -5])
def test_n_samples_out_of_range_is_rejected(n_samples: int) -> None:
    with pytest.raises(
        ValueError, match=f"n_samples must be an integer between 4 and 10000, got {n_samples}"
    ):
        make_dataset("circle", n_samples=n_samples)


@pytest.mark.parametrize("noise", [2.0, -0.1, float("nan")])
def test_noise_out_of_range_is_rejected(noise: float) -> None:
    with pytest.raises(ValueError, match=f"noise must be between 0 and 1, got {noise}"):
        make_dataset("circle", noise=noise)


@pytest.mark.parametrize("train_ratio", [0.0, 1.5, -1.0])
def test_train_ratio_out_of_range_is_rejected(train_ratio: float) -> None:
    with pytest.raises(ValueError, match=rf"train_ratio must be in \(0, 1\], got {train_ratio}"):
        make_dataset("circle", train_ratio=train_ratio)


def test_unknown_label_convention_is_rejected() -> None:
    with pytest.raises(ValueError, match="labels must be '01' or 'pm1', got 'pm'"):
        make_dataset("circle", labels="pm")  # type: ignore[arg-type]


def test_edge_values_are_accepted() -> None:
    dataset = make_dataset("spiral", n_samples=10_000, noise=1.0, train_ratio=1.0)
    assert dataset.x_train.shape == (10_000, 2)
    assert make_dataset("spiral", n_samples=4, noise=0.0).x_train.shape == (2, 2)
