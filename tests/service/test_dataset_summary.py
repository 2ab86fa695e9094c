"""A session's dataset as JSON data is made once (every save reads it) and stays its data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.service.manager import SessionManager
from app.service.store import open_store
from app.settings import Settings


def test_the_summary_is_made_once_and_is_the_dataset(tmp_path: Path) -> None:
    manager = SessionManager(Settings(data_dir=tmp_path), open_store(tmp_path))
    session = manager.create({"preset": "circle"})
    first = session.dataset_summary()
    session.step("batch", 30)  # training and saving read it, never change it
    manager.save(session)
    assert session.dataset_summary() is first
    data = session.dataset
    for key, array in (("x_train", data.x_train), ("y_train", data.y_train)):
        assert np.array_equal(np.array(first[key]), array)
    # what a reload stores and reads back is the same data
    reloaded = SessionManager(Settings(data_dir=tmp_path), open_store(tmp_path)).get(session.id)
    assert reloaded is not None and reloaded.dataset_summary() == first
