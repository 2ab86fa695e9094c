"""An acknowledged class answer is in the store: a real server answers 201 (or ``answered``
on the class socket), is stopped by SIGTERM or killed by SIGKILL at once, and the next
process on the same data folder still has every answer — and the session's ``version``."""

from __future__ import annotations

import asyncio
import io
import json
import signal
from csv import DictReader
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from ws.server import Server, running_server

ANSWERS = 12
SOCKET_ANSWERS = 5
STOP_SECONDS = 20.0
# The class answers from this one script (one client): the class's quotas are its own.
ONE_CLIENT_IS_A_CLASS = {
    "PLAYGROUND_MAX_ANSWERS_PER_CLIENT": "1000",
    "PLAYGROUND_ANSWERS_PER_MINUTE_PER_CLIENT": "60000",
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def class_with_question(http: httpx.Client) -> tuple[dict[str, Any], str, int]:
    """A session paused before its output layer's backward phase, a class on it and an open
    delta_sign question: (the session, the class code, the question's id)."""
    created = http.post("/sessions", json={"preset": "circle"}).json()
    control = bearer(created["token"])
    state = created["state"]
    last = len(state["layers"]) - 1
    while state["phase"] != {"kind": "backward", "layer": last}:
        state = http.post(
            f"/sessions/{created['id']}/step", json={"unit": "phase", "count": 1}, headers=control
        ).json()["state"]
    opened = http.post("/classes", json={"session_id": created["id"]}, headers=control).json()
    asked = http.post(
        "/classes/current/questions",
        json={"kind": "delta_sign", "layer": last, "j": 0},
        headers=bearer(opened["teacher_token"]),
    )
    assert asked.status_code == 201, asked.text
    return created, opened["code"], asked.json()["id"]


async def answer_on_socket(server: Server, code: str, question: int) -> list[dict[str, Any]]:
    """Students answering on the class socket; each reply they got."""
    replies = []
    for k in range(SOCKET_ANSWERS):
        async with connect(server.ws(f"/ws/classes?token={code}")) as socket:
            await socket.send(
                json.dumps({"type": "answer", "question": question, "name": f"s{k}", "answer": "+"})
            )
            while True:
                message = json.loads(await asyncio.wait_for(socket.recv(), 10))
                if message["type"] in ("answered", "error"):
                    replies.append(message)
                    break
    return replies


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill-9"])
def test_acknowledged_answers_and_the_version_survive_a_stop(
    tmp_path: Path, stop: signal.Signals
) -> None:
    with (
        running_server(tmp_path, **ONE_CLIENT_IS_A_CLASS) as server,
        httpx.Client(base_url=f"{server.http}/api", timeout=30) as http,
    ):
        created, code, question = class_with_question(http)
        for k in range(ANSWERS):
            answered = http.post(
                "/classes/answers",
                json={"code": code, "question": question, "name": f"r{k}", "answer": "-"},
            )
            assert answered.status_code == 201, answered.text
        replies = asyncio.run(answer_on_socket(server, code, question))
        assert [r["type"] for r in replies] == ["answered"] * SOCKET_ANSWERS
        version = http.get(f"/sessions/{created['id']}", headers=bearer(created["token"])).json()[
            "version"
        ]
        assert version > 0
        server.process.send_signal(stop)  # at once: no time for a periodic save
        server.process.wait(timeout=STOP_SECONDS)

    with (
        running_server(tmp_path) as again,
        httpx.Client(base_url=f"{again.http}/api", timeout=30) as http,
    ):
        control = bearer(created["token"])
        csv = http.get(f"/sessions/{created['id']}/answers", headers=control).text
        names = sorted(row["name"] for row in DictReader(io.StringIO(csv)))
        expected = sorted(
            [f"r{k}" for k in range(ANSWERS)] + [f"s{k}" for k in range(SOCKET_ANSWERS)]
        )
        assert names == expected
        state = http.get(f"/sessions/{created['id']}", headers=control).json()
        assert state["version"] == version
        stepped = http.post(
            f"/sessions/{created['id']}/step", json={"unit": "phase", "count": 1}, headers=control
        ).json()["state"]
        assert stepped["version"] > version  # it goes on counting, never back from 0
