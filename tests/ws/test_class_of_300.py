"""A lecture hall: 300 students behind one school address, each their own browser (a
``bp_client`` cookie of its own), answer a question on a real server over loopback with the
default quotas — round 1, then round 2 with a third of them changing their mind — while one
more student floods answers. Every answer is counted once per round: the teacher's tallies,
both histograms (with their confidence split), the moves between the rounds and every
student's marks equal a recount made here from what was sent, and the true sign of δ is worked
out here from the trace and the data. The flooder is refused by its page's rate, naming it,
and changes nothing for the others. (How soon the tally follows the last answer is a
benchmark: bench/class_answers.py.)"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from websockets.asyncio.client import ClientConnection, connect

from .server import Server, running_server

STUDENTS = 300
SIGNS = ("+", "-", "0")
CONFIDENCES = ("sure", "unsure", None)
RECEIVE_SECONDS = 30.0  # a bound, so a broken server fails the test instead of hanging it
FLOOD = 40  # answers the flooder sends back to back


async def receive(socket: ClientConnection, kind: str) -> dict[str, Any]:
    """The next message of this type (others, like student counts, are skipped)."""
    while True:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), RECEIVE_SECONDS))
        if message["type"] == kind:
            return message


def browser() -> dict[str, str]:
    """A browser of its own: the cookie the server would have given it."""
    return {"Cookie": f"bp_client={secrets.token_urlsafe(16)}"}


def recount(given: dict[int, tuple[str, str | None]]) -> dict[str, list[int]]:
    """Each sign's [count, sure, unsure] among the answers that count."""
    bars = {sign: [0, 0, 0] for sign in SIGNS}
    for sign, confidence in given.values():
        bars[sign][0] += 1
        bars[sign][1] += confidence == "sure"
        bars[sign][2] += confidence == "unsure"
    return bars


def split(histogram: list[dict[str, Any]]) -> dict[str, list[int]]:
    return {bar["label"]: [bar["count"], bar["sure"], bar["unsure"]] for bar in histogram}


async def lecture_hall(server: Server) -> None:
    rng = random.Random(300)
    async with httpx.AsyncClient(base_url=f"{server.http}/api", timeout=30) as http:
        created = (await http.post("/sessions", json={"preset": "circle"})).json()
        control = {"Authorization": f"Bearer {created['token']}"}
        session_url = f"/sessions/{created['id']}"
        opened = (
            await http.post("/classes", json={"session_id": created["id"]}, headers=control)
        ).json()
        teacher_auth = {"Authorization": f"Bearer {opened['teacher_token']}"}
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
        truth = {1.0: "+", -1.0: "-", 0.0: "0"}[
            float(np.sign(state["layers"][last]["a"][0][0] - y))
        ]

        async with AsyncExitStack() as stack:

            async def join(token: str) -> ClientConnection:
                url = server.ws(f"/ws/classes?token={token}")
                return await stack.enter_async_context(
                    connect(url, additional_headers=browser(), max_queue=None)
                )

            teacher = await join(opened["teacher_token"])
            students = [await join(opened["code"]) for _ in range(STUDENTS)]
            flooder = await join(opened["code"])
            for student in [*students, flooder]:
                await receive(student, "class")
            asked = await http.post(
                "/classes/current/questions",
                json={"kind": "delta_sign", "layer": last, "j": 0, "row": 0},
                headers=teacher_auth,
            )
            assert asked.status_code == 201, asked.text
            question = asked.json()["id"]
            for student in [*students, flooder]:
                assert (await receive(student, "question"))["question"]["id"] == question

            async def answer(k: int, sign: str, confidence: str | None) -> dict[str, Any]:
                body = {"type": "answer", "question": question, "name": f"student {k}"}
                if confidence is not None:
                    body["confidence"] = confidence
                await students[k].send(json.dumps({**body, "answer": sign}))
                return await receive(students[k], "answered")

            async def flood() -> list[dict[str, Any]]:
                replies = []
                for n in range(FLOOD):
                    message = {"type": "answer", "question": question, "name": "flood",
                               "answer": SIGNS[n % 3]}  # fmt: skip
                    await flooder.send(json.dumps(message))
                    replies.append(json.loads(await asyncio.wait_for(flooder.recv(), 30)))
                return replies

            async def tally_reaches(round_: int, bars: dict[str, list[int]]) -> dict[str, Any]:
                """The teacher's counts once they are these (each message whole: the latest
                wins; a wrong count never matches and the wait runs out)."""
                while True:
                    counted = await receive(teacher, "answers")
                    if counted["round"] == round_ and split(counted["histogram"]) == bars:
                        return counted

            # Round 1: everyone at once, the flooder beside them.
            first = {k: (rng.choice(SIGNS), rng.choice(CONFIDENCES)) for k in range(STUDENTS)}
            acks, flooded = await asyncio.gather(
                asyncio.gather(*(answer(k, *first[k]) for k in range(STUDENTS))), flood()
            )
            assert sorted(a["name"] for a in acks) == sorted(f"student {k}" for k in first)
            assert {a["round"] for a in acks} == {1}
            refused = [r for r in flooded if r["type"] == "error"]
            assert refused and {r["field"] for r in refused} == {"answers_per_minute_per_page"}
            assert "answers come too fast" in refused[0]["message"]
            kept_flood = [r for r in flooded if r["type"] == "answered"]
            assert kept_flood  # its first answers count: a page may change its mind
            expected = recount(first)
            expected[kept_flood[-1]["answer"]][0] += 1  # the flooder is one name: its latest
            counted = await tally_reaches(1, expected)
            assert counted["count"] == STUDENTS + 1

            opened_round = await http.post(
                f"/classes/current/questions/{question}/rounds", headers=teacher_auth
            )
            assert opened_round.status_code == 201 and opened_round.json()["round"] == 2
            for student in students:
                assert (await receive(student, "question"))["question"]["round"] == 2

            # Round 2: everyone again, a third of them changing their mind first.
            second = {k: (rng.choice(SIGNS), rng.choice(CONFIDENCES)) for k in range(STUDENTS)}
            fickle = rng.sample(range(STUDENTS), STUDENTS // 3)

            async def vote_again(k: int) -> dict[str, Any]:
                if k in fickle:
                    await answer(k, rng.choice(SIGNS), None)
                return await answer(k, *second[k])

            acks = await asyncio.gather(*(vote_again(k) for k in range(STUDENTS)))
            assert {a["round"] for a in acks} == {2}
            counted = await tally_reaches(2, recount(second))
            assert counted["count"] == STUDENTS
            assert [r["round"] for r in counted["rounds"]] == [1, 2]
            assert split(counted["rounds"][0]["histogram"]) == expected  # round 1 as it was

            revealed = await http.post(
                f"/classes/current/questions/{question}/reveal", headers=teacher_auth
            )
            assert revealed.status_code == 200, revealed.text
            told = revealed.json()
            assert told["truth"]["sign"] == truth
            right = [sign == truth for sign, _ in second.values()].count(True)
            assert told["tally"] == {"answers": STUDENTS, "right": right, "wrong": STUDENTS - right}
            moves = dict.fromkeys(
                ("wrong_to_right", "right_to_wrong", "right_to_right", "wrong_to_wrong"), 0
            )
            for k in range(STUDENTS):
                was, now = first[k][0] == truth, second[k][0] == truth
                moves[f"{'right' if was else 'wrong'}_to_{'right' if now else 'wrong'}"] += 1
            assert told["moved"] == moves
            for k, student in enumerate(students):
                mine = await receive(student, "reveal")
                assert mine["name"] == f"student {k}" and mine["mark"] is (second[k][0] == truth)
                assert [(a["round"], a["answer"], a["confidence"]) for a in mine["answers"]] == [
                    (1, *first[k]),
                    (2, *second[k]),
                ]
                assert "students" not in mine
            to_teacher = await receive(teacher, "reveal")
            assert len(to_teacher["students"]) == STUDENTS + 1


def test_a_lecture_hall_of_300_behind_one_address_answers_two_rounds(tmp_path: Path) -> None:
    """The default quotas: one school address, 300 browsers (and the flooder's)."""
    with running_server(tmp_path / "data", PLAYGROUND_LOG_LEVEL="warning") as server:
        asyncio.run(lecture_hall(server))
