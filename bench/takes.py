"""What a take costs: one Ray actor call against the take stream (``app/cluster/takes.py``).

Starts a local Ray instance (loopback, 2 CPUs) and one actor holding a ``TakeServer``; each
take answers the same messages (``--sockets`` sockets with one frame of ``--frame-bytes`` of
JSON each, as a frame interval of a class brings; with ``--watchers`` they all watch one
session, so they share its frame's one encoding). ``--takes`` takes one after the other,
each way, twice, alternated; prints wall time and CPU per take, in the caller (the web
process) and in the actor (the worker).

    .venv/bin/python bench/takes.py
    .venv/bin/python bench/takes.py --sockets 25 --json
    .venv/bin/python bench/takes.py --sockets 100 --watchers
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # Ray on 127.0.0.1
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ray

from app.cluster.takes import TakeChannel, TakeServer, pack_taken


def cpu_seconds() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


class Worker:
    """Answers takes both ways: as a Ray method, and on its take stream."""

    def __init__(self, sockets: int, frame_bytes: int, watchers: bool) -> None:
        def frame(i: int) -> str:  # students: a frame of each one's session
            return f'{{"type":"frame","session":{i},"x":"' + "0" * max(0, frame_bytes - 36) + '"}'

        shared = frame(0)  # watchers of one session: the one encoding of its frame
        self.answer = {
            f"socket-{i}": [{"type": "websocket.send", "text": shared if watchers else frame(i)}]
            for i in range(sockets)
        }
        self.bytes = len(pack_taken(self.answer))
        self.takes = TakeServer(self.ws_take)

    async def ws_take(self, relay: str, connections: list[str], wait: float) -> dict[str, Any]:
        return self.answer

    async def take_address(self) -> dict[str, Any]:
        if self.takes.server is None:
            await self.takes.start("127.0.0.1")
        return self.takes.where()

    def cpu(self) -> float:
        return cpu_seconds()

    def stream_bytes(self) -> int:
        return self.bytes


async def by_ray(worker: Any, connections: list[str], n: int) -> None:
    for _ in range(n):
        await worker.ws_take.remote("web", connections, 1.0)


async def by_stream(worker: Any, connections: list[str], n: int) -> None:
    channel = TakeChannel(worker, "web")
    for _ in range(n):
        await channel.take(connections, 1.0)
    channel.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--takes", type=int, default=600)
    parser.add_argument("--sockets", type=int, default=10)
    parser.add_argument("--frame-bytes", type=int, default=3000)
    parser.add_argument(
        "--watchers", action="store_true", help="the sockets watch one session: one frame text"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        object_store_memory=128 * 1024 * 1024,
        logging_level="WARNING",
    )
    worker = ray.remote(max_concurrency=100)(Worker).remote(
        args.sockets, args.frame_bytes, args.watchers
    )
    print(f"a take's answer on the stream: {ray.get(worker.stream_bytes.remote())} bytes")
    connections = [f"socket-{i}" for i in range(args.sockets)]
    asyncio.run(by_stream(worker, connections, 50))  # warm both ways up
    asyncio.run(by_ray(worker, connections, 50))
    rows = []
    for name, way in [("ray call", by_ray), ("take stream", by_stream)] * 2:
        mine, theirs, started = cpu_seconds(), ray.get(worker.cpu.remote()), time.perf_counter()
        asyncio.run(way(worker, connections, args.takes))
        wall = time.perf_counter() - started
        mine, theirs = cpu_seconds() - mine, ray.get(worker.cpu.remote()) - theirs
        row = {
            "way": name,
            "wall_ms": round(wall / args.takes * 1e3, 3),
            "caller_cpu_ms": round(mine / args.takes * 1e3, 3),
            "worker_cpu_ms": round(theirs / args.takes * 1e3, 3),
        }
        rows.append(row)
        print(
            f"{name:12s} per take: wall {row['wall_ms']:.3f} ms, CPU {row['caller_cpu_ms']:.3f} ms"
            f" in the caller + {row['worker_cpu_ms']:.3f} ms in the worker"
        )
    ray.shutdown()
    if args.json:
        summary = {"sockets": args.sockets, "frame_bytes": args.frame_bytes, "rows": rows}
        print(json.dumps({**summary, "watchers": args.watchers}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
