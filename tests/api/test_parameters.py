"""PATCH /api/sessions/{id}/parameter: a weight or a bias typed by hand; control token only."""

from __future__ import annotations

from typing import Any

CreateSession = Any


def test_set_a_weight_and_a_bias_then_train_from_them(create_session: CreateSession) -> None:
    session = create_session(preset="circle")
    client = session.client
    url = session.url("/parameter")
    before = session.read(include_trace=False)["layers"]
    answer = client.patch(
        url, json={"layer": 1, "i": 0, "j": 1, "value": 0.5}, headers=session.control
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["value"] == 0.5
    bias = client.patch(url, json={"layer": 0, "j": 2, "value": -0.25}, headers=session.control)
    assert bias.status_code == 200 and bias.json()["i"] is None
    after = session.read(include_trace=False)["layers"]
    assert after[1]["W"][0][1] == 0.5 and after[0]["b"][2] == -0.25
    # Every other parameter stays as it was.
    after[1]["W"][0][1], after[0]["b"][2] = before[1]["W"][0][1], before[0]["b"][2]
    assert [(layer["W"], layer["b"]) for layer in after] == [
        (layer["W"], layer["b"]) for layer in before
    ]
    session.step()
    assert session.read(include_trace=False)["layers"][1]["W"][0][1] != 0.5, "training moved on"


def test_setting_a_parameter_needs_the_control_token(create_session: CreateSession) -> None:
    session = create_session(preset="circle")
    body = {"layer": 0, "i": 0, "j": 0, "value": 1.0}
    assert session.client.patch(session.url("/parameter"), json=body).status_code == 401
    watched = session.client.patch(session.url("/parameter"), json=body, headers=session.watch)
    assert watched.status_code == 403


def test_a_parameter_out_of_range_is_refused_naming_it(create_session: CreateSession) -> None:
    session = create_session(preset="circle")  # 2 → 4 → 2 → 1
    for body, field in (
        ({"layer": 3, "i": 0, "j": 0, "value": 1.0}, "layer"),
        ({"layer": 0, "i": 2, "j": 0, "value": 1.0}, "i"),
        ({"layer": 0, "i": 0, "j": 4, "value": 1.0}, "j"),
    ):
        answer = session.client.patch(session.url("/parameter"), json=body, headers=session.control)
        assert answer.status_code == 422 and answer.json()["field"] == field, answer.text
    huge = {"layer": 0, "i": 0, "j": 0, "value": 1e9}
    answer = session.client.patch(session.url("/parameter"), json=huge, headers=session.control)
    assert answer.status_code == 422
    no_bias = create_session(preset="lesson-000")
    answer = no_bias.client.patch(
        no_bias.url("/parameter"), json={"layer": 0, "j": 0, "value": 1.0}, headers=no_bias.control
    )
    assert answer.status_code == 422 and answer.json()["field"] == "i"
