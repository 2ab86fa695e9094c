"""The handwritten digits: app/vendor's file is scikit-learn's own and loads as its
``load_digits`` does; the dataset's shapes, labels, standardization and held-out split; and the
preset's test accuracy after a fixed number of epochs from its fixed seed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from app.engine.datasets import (
    DATASETS,
    DIGITS_CLASS_NAMES,
    DIGITS_FEATURE_NAMES,
    load_digits,
    make_dataset,
)
from app.service.presets import PRESETS
from app.service.session import Session, build_dataset, model_config_for

sklearn_datasets = pytest.importorskip("sklearn.datasets")  # a test dependency ([dev])
VENDORED = Path(__file__).resolve().parents[2] / "app" / "vendor" / "digits.csv.gz"


def test_the_vendored_file_is_scikit_learns_and_loads_as_load_digits() -> None:
    shipped = Path(sklearn_datasets.__file__).parent / "data" / "digits.csv.gz"
    digest = [hashlib.sha256(path.read_bytes()).hexdigest() for path in (VENDORED, shipped)]
    assert digest[0] == digest[1]
    pixels, digits = load_digits()
    reference = sklearn_datasets.load_digits()
    assert pixels.dtype == np.float64 and pixels.shape == (1797, 64)
    np.testing.assert_array_equal(pixels, reference.data)
    np.testing.assert_array_equal(digits, reference.target)
    assert list(DIGITS_FEATURE_NAMES) == list(reference.feature_names)
    np.testing.assert_array_equal(pixels.reshape(-1, 8, 8), reference.images)


def test_the_dataset_is_standardized_one_hot_and_held_out() -> None:
    data = make_dataset("digits", train_ratio=0.8, seed=0)
    pixels, digits = load_digits()
    assert data.x_train.shape == (1438, 64) and data.x_test.shape == (359, 64)
    assert data.y_train.shape == (1438, 10) and data.class_names == DIGITS_CLASS_NAMES
    assert DATASETS["digits"].n_features == 64 and not DATASETS["digits"].generated
    # One-hot, every digit in both splits.
    for y in (data.y_train, data.y_test):
        assert set(np.unique(y)) == {0.0, 1.0} and np.all(y.sum(axis=1) == 1)
        assert set(np.argmax(y, axis=1)) == set(range(10))
    # Standardized with the train split's own mean and std (a constant pixel keeps std 1),
    # kept so the page can draw the images: raw = x · std + mean gives back whole pixels.
    mean, std = np.asarray(data.feature_mean), np.asarray(data.feature_std)
    raw_train = data.x_train * std + mean
    np.testing.assert_allclose(mean, raw_train.mean(axis=0), atol=1e-12)
    spread = raw_train.std(axis=0)
    np.testing.assert_allclose(std, np.where(spread > 0, spread, 1.0), rtol=1e-12)
    np.testing.assert_allclose(raw_train, np.round(raw_train), atol=1e-9)
    # The two splits are the 1,797 images, each once: every row of one is an image, with its
    # own digit, and none is in both.
    rows = {row.tobytes(): digit for row, digit in zip(pixels, digits, strict=True)}
    raw_test = data.x_test * std + mean
    seen = set()
    for x, y in ((raw_train, data.y_train), (raw_test, data.y_test)):
        for row, target in zip(np.round(x) + 0.0, y, strict=True):  # (no −0.0)
            key = row.tobytes()
            assert rows[key] == int(np.argmax(target)) and key not in seen
            seen.add(key)
    assert len(seen) == len({row.tobytes() for row in pixels})
    # Reproducible from the seed; another seed, another split.
    again = make_dataset("digits", train_ratio=0.8, seed=0)
    np.testing.assert_array_equal(again.x_train, data.x_train)
    other = make_dataset("digits", train_ratio=0.8, seed=1)
    assert not np.array_equal(other.y_test, data.y_test)


def test_the_preset_passes_90_percent_on_the_held_out_images_within_three_epochs() -> None:
    preset = PRESETS["digits"]
    assert preset["model"]["layers"][-1] == {"units": 10, "activation": "softmax"}
    dataset = build_dataset(preset["data"], lambda _: {})
    config = {"model": model_config_for(preset["model"], dataset), "data": preset["data"]}
    session = Session(config, dataset)
    for _ in range(3):
        session.step("epoch", 1)
    model = session.model
    probabilities = model.predict(session.dataset.x_test)
    accuracy = float(np.mean(np.argmax(probabilities, 1) == np.argmax(session.dataset.y_test, 1)))
    assert accuracy >= 0.9
    assert model.epoch == 3 and model.step == 3 * 90  # 1,438 images, batches of 16
