"""The app with some of the facts it shares with the page changed on the server side, for
tests/browser/test_shared_facts.py: a page that kept a copy of them would show the old ones.

x1² is called ``RENAMED`` (its column keeps its values), ``linear`` becomes an output layer's
only, ``sse`` needs a sigmoid output, and lesson 003 has another title and button.
"""

from __future__ import annotations

from dataclasses import replace

from fastapi import FastAPI

from app.engine import activations, datasets, losses
from app.main import create_app as create_plain_app
from app.service import lessons

RENAMED = {"id": "x1_squared", "label": "x1^2", "formula": "x1 times x1"}
OUTPUT_ONLY = "linear"
SIGMOID_LOSS = "sse"
LESSON = {"id": "lesson-003", "title": "lesson three, renamed", "load": "Load the XOR, renamed"}


def change_the_facts() -> None:
    name = RENAMED["id"]
    datasets.FEATURES[name] = datasets.FEATURES[name]._replace(
        label=RENAMED["label"], formula=RENAMED["formula"]
    )
    datasets.FEATURE_BY_LABEL.clear()
    datasets.FEATURE_BY_LABEL.update(
        {feature.label: name for name, feature in datasets.FEATURES.items()}
    )
    activations.ACTIVATIONS[OUTPUT_ONLY] = replace(
        activations.ACTIVATIONS[OUTPUT_ONLY], output_only=True
    )
    losses.LOSSES[SIGMOID_LOSS] = replace(
        losses.LOSSES[SIGMOID_LOSS], output_activations=frozenset({"sigmoid"})
    )
    lesson = lessons.LESSONS[LESSON["id"]]
    lessons.LESSONS[LESSON["id"]] = replace(lesson, title=LESSON["title"], load=LESSON["load"])


def create_app() -> FastAPI:
    change_the_facts()
    return create_plain_app()
