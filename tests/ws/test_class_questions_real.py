"""A class of 100 answers at once, on a real server over loopback: the teacher's count reaches
100, and after Reveal every student's mark and the teacher's tally are right (the true sign of
δ worked out here, from the trace and the data, not read from the server's answer); and a
class socket is closed with 1012 when the server stops."""

from __future__ import annotations

import asyncio
import json
import signal
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from .server import Server, running_server

STUDENTS = 100
SIGNS = ("+", "-", "0")
RECEIVE_SECONDS = 20.0  # a bound, so a broken server fails the test instead of hanging it
COUNT_SECONDS = 1.0  # the "within a second of the last answer"


async def receive(socket: ClientConnection, kind: str) -> dict[str, Any]:
    """The next message of this type (others, like student counts, are skipped)."""
    while True:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), RECEIVE_SECONDS))
        if message["type"] == kind:
            return message


async def class_answers(server: Server) -> None:
    async with httpx.AsyncClient(base_url=f"{server.http}/api", timeout=30) as http:
        created = (await http.post("/sessions", json={"preset": "circle"})).json()
        control = {"Authorization": f"Bearer {created['token']}"}
        session_url = f"/sessions/{created['id']}"
        opened = (
            await http.post("/classes", json={"session_id": created["id"]}, headers=control)
        ).json()
        teacher_token, code = opened["teacher_token"], opened["code"]
        teacher_auth = {"Authorization": f"Bearer {teacher_token}"}
        state = created["state"]
        last = len(state["layers"]) - 1
        while state["phase"] != {"kind": "backward", "layer": last}:
            stepped = await http.post(
                f"{session_url}/step", json={"unit": "phase", "count": 1}, headers=control
            )
            state = stepped.json()["state"]
        # mse on a tanh output: δ = c·(ŷ − y)·(1 − ŷ²), c > 0, so δ's sign is (ŷ − y)'s.
        data = (await http.get(f"{session_url}/dataset", headers=control)).json()
        y = np.asarray(data["y_train"])[state["batch_indices"][0], 0]
        expected = {1.0: "+", -1.0: "-", 0.0: "0"}[
            float(np.sign(state["layers"][last]["a"][0][0] - y))
        ]

        async with AsyncExitStack() as stack:
            teacher = await stack.enter_async_context(
                connect(server.ws(f"/ws/classes?token={teacher_token}"))
            )
            students = [
                await stack.enter_async_context(connect(server.ws(f"/ws/classes?token={code}")))
                for _ in range(STUDENTS)
            ]
            for student in students:
                await receive(student, "class")
            asked = await http.post(
                "/classes/current/questions",
                json={"kind": "delta_sign", "layer": last, "j": 0, "row": 0},
                headers=teacher_auth,
            )
            assert asked.status_code == 201, asked.text
            question = asked.json()["id"]
            for student in students:
                assert (await receive(student, "question"))["question"]["id"] == question

            given = [SIGNS[k % len(SIGNS)] for k in range(STUDENTS)]

            async def answer(k: int) -> dict[str, Any]:
                body = {"type": "answer", "question": question, "name": f"student {k}"}
                await students[k].send(json.dumps({**body, "answer": given[k]}))
                return await receive(students[k], "answered")

            acks = await asyncio.gather(*(answer(k) for k in range(STUDENTS)))
            assert sorted(ack["name"] for ack in acks) == sorted(f"student {k}" for k in range(100))

            async def count_reaches_all() -> dict[str, Any]:
                while True:
                    counted = await receive(teacher, "answers")
                    if counted["count"] == STUDENTS:
                        return counted

            counted = await asyncio.wait_for(count_reaches_all(), COUNT_SECONDS)
            bars = {bar["label"]: bar["count"] for bar in counted["histogram"]}
            assert bars == {sign: given.count(sign) for sign in SIGNS}

            revealed = await http.post(
                f"/classes/current/questions/{question}/reveal", headers=teacher_auth
            )
            assert revealed.status_code == 200, revealed.text
            right = given.count(expected)
            assert revealed.json()["truth"]["sign"] == expected
            assert revealed.json()["tally"] == {
                "answers": STUDENTS, "right": right, "wrong": STUDENTS - right
            }  # fmt: skip
            for k, student in enumerate(students):
                told = await receive(student, "reveal")
                assert told["name"] == f"student {k}"
                assert told["mark"] is (given[k] == expected)
            to_teacher = await receive(teacher, "reveal")
            assert to_teacher["tally"]["right"] == right and "marks" not in to_teacher
        # The phase ran on the teacher's session: its walked δ has the revealed sign.
        after = (await http.get(session_url, headers=control)).json()
        delta = after["layers"][last]["delta"][0][0]
        assert ("+" if delta > 0 else "-" if delta < 0 else "0") == expected


def test_a_class_of_100_answers_and_every_mark_and_the_tally_are_right(tmp_path: Path) -> None:
    # The 100 students are one loopback client without a cookie: the class's quotas are its.
    with running_server(
        tmp_path / "data",
        PLAYGROUND_LOG_LEVEL="warning",
        PLAYGROUND_MAX_SOCKETS_PER_CLIENT="1000",
        PLAYGROUND_MAX_ANSWERS_PER_CLIENT="1000",
        PLAYGROUND_ANSWERS_PER_MINUTE_PER_CLIENT="60000",
    ) as server:
        asyncio.run(class_answers(server))


async def stopped_under(server: Server) -> int | None:
    """The close code a student's class socket gets when the server is stopped (SIGTERM)."""
    async with httpx.AsyncClient(base_url=f"{server.http}/api", timeout=30) as http:
        created = (await http.post("/sessions", json={"preset": "circle"})).json()
        control = {"Authorization": f"Bearer {created['token']}"}
        opened = await http.post("/classes", json={"session_id": created["id"]}, headers=control)
    async with connect(server.ws(f"/ws/classes?token={opened.json()['code']}")) as student:
        await receive(student, "class")
        server.process.send_signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed):
            while True:
                await asyncio.wait_for(student.recv(), RECEIVE_SECONDS)
        return student.close_code


def test_a_class_socket_is_closed_with_1012_when_the_server_stops(tmp_path: Path) -> None:
    with running_server(tmp_path / "data") as server:
        assert asyncio.run(stopped_under(server)) == 1012
        server.process.wait(timeout=RECEIVE_SECONDS)
