"""Hand edits on the timeline: …/at and …/branch after a weight typed by hand.

The expectation is the live session itself: after every call of the script the test reads the
session's state and the moment its timeline says it is at, so each moment maps to what the live
session had there (its last visit). Checkpoints every 3 batches put edits between checkpoints,
so the replay has to redo them.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.settings import Settings

from .test_timeline import COMPARED, REQUEST

CreateOn = Any
OpenClient = Any
Moment = tuple[int, int, int]

# (kind, argument): steps, hand edits at a batch boundary and mid-batch (a weight and a bias),
# an activation change between them, and edits right before more training.
SCRIPT: list[tuple[str, Any]] = [
    ("batch", 2),
    ("parameter", {"layer": 1, "i": 0, "j": 1, "value": 3.0}),
    ("phase", 3),
    ("parameter", {"layer": 0, "i": None, "j": 2, "value": -0.75}),
    ("phase", 6),
    ("batch", 2),
    ("set", {"activations": {"1": "relu"}}),
    ("parameter", {"layer": 2, "i": 1, "j": 0, "value": -2.5}),
    ("batch", 4),
    ("phase", 2),
    ("parameter", {"layer": 0, "i": 1, "j": 3, "value": 1.25}),
    ("phase", 1),
    ("batch", 1),
]


def run(session: Any, kind: str, arg: Any) -> None:
    client, control = session.client, session.control
    if kind == "parameter":
        response = client.patch(session.url("/parameter"), json=arg, headers=control)
    elif kind == "set":
        response = client.patch(session.url(), json=arg, headers=control)
    else:
        response = client.post(
            session.url("/step"), json={"unit": kind, "count": arg}, headers=control
        )
    assert response.status_code == 200, response.text


def now_of(session: Any) -> Moment:
    now = session.client.get(session.url("/timeline"), headers=session.watch).json()["now"]
    return (now["epoch"], now["batch"], now["phase"])


def walk(session: Any) -> tuple[dict[Moment, Any], list[tuple[int, Moment]]]:
    """Run SCRIPT on the live session, phases and batches one call each; every moment →
    the live state there, and (index in SCRIPT, moment just after) of each hand edit."""
    seen: dict[Moment, Any] = {now_of(session): session.read()}
    edits: list[tuple[int, Moment]] = []
    for index, (kind, arg) in enumerate(SCRIPT):
        stepping = kind in ("phase", "batch")
        for _ in range(arg if stepping else 1):
            run(session, kind, 1 if stepping else arg)
            seen[now_of(session)] = session.read()
        if kind == "parameter":
            edits.append((index, now_of(session)))
    return seen, edits


def at(client: TestClient, session: Any, moment: Moment) -> dict[str, Any]:
    epoch, batch, phase = moment
    response = client.get(
        session.url("/at"),
        params={"epoch": epoch, "batch": batch, "phase": phase},
        headers=session.watch,
    )
    assert response.status_code == 200, response.text
    state: dict[str, Any] = response.json()["state"]
    return state


@pytest.fixture
def small_checkpoints(open_client: OpenClient, settings: Settings) -> TestClient:
    client: TestClient = open_client(settings.model_copy(update={"timeline_checkpoint_every": 3}))
    return client


def test_at_every_moment_equals_the_live_session_around_hand_edits(
    small_checkpoints: TestClient, create_on: CreateOn
) -> None:
    session = create_on(small_checkpoints, REQUEST)
    seen, edits = walk(session)
    assert len(edits) == 4 and len(seen) > 20
    for moment, live in seen.items():
        state = at(small_checkpoints, session, moment)
        for key in COMPARED:
            assert state[key] == live[key], (moment, key)
    # The first edit set W[1][0, 1] = 3.0 at (0, 2, 0): the moment holds the edited weight
    # (its last visit), the moment before holds the weight training had left.
    assert edits[0][1] == (0, 2, 0)
    assert at(small_checkpoints, session, (0, 2, 0))["layers"][1]["W"][0][1] == 3.0
    assert at(small_checkpoints, session, (0, 1, 7))["layers"][1]["W"][0][1] != 3.0


def test_a_branch_after_a_hand_edit_continues_like_the_live_session(
    small_checkpoints: TestClient, create_on: CreateOn
) -> None:
    session = create_on(small_checkpoints, REQUEST)
    seen, edits = walk(session)
    index, moment = edits[2]  # W[2][1, 0] = −2.5, then 4 batches on the live session
    assert SCRIPT[index + 1] == ("batch", 4)
    epoch, batch, phase = moment
    response = small_checkpoints.post(
        session.url("/branch"),
        json={"epoch": epoch, "batch": batch, "phase": phase},
        headers=session.watch,
    )
    assert response.status_code == 201, response.text
    branch = response.json()
    assert branch["state"]["layers"] == seen[moment]["layers"]
    assert branch["state"]["layers"][2]["W"][1][0] == -2.5
    headers = {"Authorization": f"Bearer {branch['token']}"}
    for done in range(1, 5):
        stepped = small_checkpoints.post(
            f"/api/sessions/{branch['id']}/step",
            json={"unit": "batch", "count": 1},
            headers=headers,
        ).json()["state"]
        live = seen[(epoch, batch + done, 0)]
        for key in COMPARED:
            assert stepped[key] == live[key], (done, key)
