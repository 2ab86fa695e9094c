"""Benchmark: a lecture hall answering — how soon after the last answer does the teacher's
tally show it, and how soon after Reveal does every student have their mark?

Starts the real server as ``make run`` does (``python -m app``) on a free loopback port with a
fresh data folder and its default quotas. K students (300 by default), each a browser of its
own (a ``bp_client`` cookie) on the class socket, answer a question at once; the teacher opens
round 2 and they answer again; then Reveal. Repeated for ``--questions`` questions. Per round
it times, on one clock (this process):

- *tally*: from the last answer sent to the teacher's ``answers`` message that counts all K;
- *acks*: from the first answer sent to the last ``answered`` back;
- *reveal*: from the Reveal call to the last student's ``reveal`` (their mark).

It prints p50 and p95 of each, and with ``--json`` one JSON line last. Loopback only, bounded:
every socket is closed at the end.

    .venv/bin/python bench/class_answers.py
    .venv/bin/python bench/class_answers.py --students 300 --questions 10 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import signal
import statistics
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

# bench/serve.py, beside this file (also when a test loads this one by its path)
sys.path.insert(0, str(Path(__file__).resolve().parent))
import serve

SIGNS = ("+", "-", "0")
WAIT = 60.0  # seconds: a bound on any one message
# A question every few seconds is a faster pace than any class's: each page's and browser's
# answer rate is raised so that the bench's rounds are not refused; every other quota (the
# school address's included) is the default.
FAST_PACE = {
    "PLAYGROUND_ANSWERS_PER_MINUTE_PER_PAGE": "6000",
    "PLAYGROUND_ANSWERS_PER_MINUTE_PER_CLIENT": "6000",
    "PLAYGROUND_ANSWERS_PER_MINUTE_PER_ADDRESS": "60000",
}


async def receive(socket_: ClientConnection, kind: str) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(socket_.recv(), WAIT))
        if message["type"] == kind:
            return message


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    at = min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))
    return {"p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p95_ms": round(ordered[at] * 1000, 1)}  # fmt: skip


async def lecture(port: int, students: int, questions: int) -> dict[str, list[float]]:
    base = f"http://127.0.0.1:{port}"
    rng = random.Random(0)
    times: dict[str, list[float]] = {"tally": [], "acks": [], "reveal": []}
    async with (
        httpx.AsyncClient(base_url=f"{base}/api", timeout=60) as http,
        AsyncExitStack() as stack,
    ):
        created = (await http.post("/sessions", json={"preset": "circle"})).json()
        control = {"Authorization": f"Bearer {created['token']}"}
        opened = (
            await http.post("/classes", json={"session_id": created["id"]}, headers=control)
        ).json()
        teacher_auth = {"Authorization": f"Bearer {opened['teacher_token']}"}

        async def join(token: str) -> ClientConnection:
            cookie = {"Cookie": f"bp_client={secrets.token_urlsafe(16)}"}
            url = f"ws://127.0.0.1:{port}/ws/classes?token={token}"
            return await stack.enter_async_context(
                connect(url, additional_headers=cookie, max_queue=None)
            )

        teacher = await join(opened["teacher_token"])
        pages = [await join(opened["code"]) for _ in range(students)]
        for page in pages:
            await receive(page, "class")
        last = len(created["state"]["layers"]) - 1
        for _ in range(questions):
            state = (await http.get(f"/sessions/{created['id']}", headers=control)).json()
            while state["phase"] != {"kind": "backward", "layer": last}:
                stepped = await http.post(
                    f"/sessions/{created['id']}/step",
                    json={"unit": "phase", "count": 1},
                    headers=control,
                )
                state = stepped.json()["state"]
            asked = await http.post(
                "/classes/current/questions",
                json={"kind": "delta_sign", "layer": last, "j": 0},
                headers=teacher_auth,
            )
            question = asked.json()["id"]
            for page in pages:
                await receive(page, "question")
            for round_ in (1, 2):
                if round_ == 2:
                    await http.post(
                        f"/classes/current/questions/{question}/rounds", headers=teacher_auth
                    )
                    for page in pages:
                        await receive(page, "question")
                answers = [rng.choice(SIGNS) for _ in pages]
                tally, acks = await one_round(teacher, pages, question, round_, answers)
                times["tally"].append(tally)
                times["acks"].append(acks)
            revealing = time.monotonic()
            await http.post(f"/classes/current/questions/{question}/reveal", headers=teacher_auth)
            for page in pages:
                await receive(page, "reveal")
            times["reveal"].append(time.monotonic() - revealing)
            await receive(teacher, "reveal")
    return times


async def one_round(
    teacher: ClientConnection,
    pages: list[ClientConnection],
    question: int,
    round_: int,
    answers: list[str],
) -> tuple[float, float]:
    """Every page answers at once: (last answer sent → the teacher's tally of all, first
    answer sent → the last ``answered``), in seconds."""
    sent_last = 0.0

    async def answer(k: int) -> float:
        nonlocal sent_last
        message = {"type": "answer", "question": question, "name": f"s{k}", "answer": answers[k]}
        await pages[k].send(json.dumps(message))
        sent_last = max(sent_last, time.monotonic())
        await receive(pages[k], "answered")
        return time.monotonic()

    async def tally() -> float:
        while True:
            counted = await receive(teacher, "answers")
            if counted["round"] == round_ and counted["count"] == len(pages):
                return time.monotonic()

    started = time.monotonic()
    counted_at, acked = await asyncio.gather(
        tally(), asyncio.gather(*(answer(k) for k in range(len(pages))))
    )
    return counted_at - sent_last, max(acked) - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--questions", type=int, default=5, help="two rounds each")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args()
    port = serve.free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        server = serve.start_server(data_dir, port, FAST_PACE)
        try:
            times = asyncio.run(lecture(port, args.students, args.questions))
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    summary = {name: percentiles(values) for name, values in times.items()}
    for name, figures in summary.items():
        print(f"{name:>6}: p50 {figures['p50_ms']:7.1f} ms  p95 {figures['p95_ms']:7.1f} ms  "
              f"({len(times[name])} samples, {args.students} students)")  # fmt: skip
    if args.json:
        print(json.dumps({"students": args.students, **summary}))


if __name__ == "__main__":
    main()
