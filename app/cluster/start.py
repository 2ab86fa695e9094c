"""Joining or starting Ray, and finding (or starting) the named session workers.

``--workers N`` alone starts a Ray instance of this machine, on loopback, with N workers that
end with the server. ``--ray-address`` joins a running cluster: workers already there (named
``playground-worker-<i>`` in the ``backprop-playground`` namespace) are used as they are, so
every web process agrees on their number; if there are none, N are started, detached (they
outlive the web process that started them; ``ray stop`` ends them).
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from app.settings import Settings

from .owner import NAME_PREFIX, NAMESPACE, worker_name

log = logging.getLogger("app.cluster")

LOCAL_OBJECT_STORE_BYTES = 128 * 1024 * 1024  # frames and requests are small; Ray's least is 75 MB
CONNECT_SECONDS = 5.0  # to reach the Ray head's port
# A gRPC server (Ray's GCS) answers HTTP/2's connection preface with a SETTINGS frame.
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
HTTP2_SETTINGS = 4  # the frame type, 4th byte of a frame header
READY_SECONDS = 120.0  # for the workers to build their apps
EXTRA_MISSING = (
    "--workers and --ray-address need the [cluster] extra: "
    "pip install 'backprop-playground[cluster]'"
)


class ClusterUnavailableError(RuntimeError):
    """Ray could not be started or reached, or the workers did not start; one line says why."""


def worker_count(value: str) -> int:
    """``N`` or ``auto`` (the machine's cores) → a number of workers."""
    if value == "auto":
        return os.cpu_count() or 1
    return int(value)


def import_ray() -> Any:
    """Ray, bound to loopback unless told otherwise (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 makes
    a node take 127.0.0.1, not the machine's interface address); ``EXTRA_MISSING`` without it."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise ClusterUnavailableError(EXTRA_MISSING) from None
    return ray


def worker_environment(settings: Settings) -> dict[str, str]:
    """The settings a worker builds its app from: this process's PLAYGROUND_* variables, the
    data folder made absolute (a worker runs in a folder of Ray's)."""
    environment = {k: v for k, v in os.environ.items() if k.startswith("PLAYGROUND_")}
    environment["PLAYGROUND_DATA_DIR"] = str(settings.data_dir.resolve())
    return environment


def check_reachable(address: str) -> None:
    """A ``HOST:PORT`` where no gRPC server answers (Ray's head is one) fails here at once:
    ``ray.init`` itself would retry for minutes, printing as it goes."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and other forms: Ray decides
    try:
        with socket.create_connection(
            (host.strip("[]"), int(port)), timeout=CONNECT_SECONDS
        ) as probe:
            probe.sendall(HTTP2_PREFACE)
            reply = probe.recv(9)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ClusterUnavailableError(f"Ray could not be reached at {address}: {reason}") from None
    if len(reply) < 9 or reply[3] != HTTP2_SETTINGS:
        raise ClusterUnavailableError(
            f"Ray could not be reached at {address}: something answers there, but not a Ray "
            "head (give its GCS port, 6379 unless `ray start --port` said otherwise)"
        )


def connect(settings: Settings) -> None:
    """Join ``settings.ray_address``, or start a local Ray instance; one line if it fails."""
    ray = import_ray()
    if ray.is_initialized():
        return
    if settings.ray_address:
        check_reachable(settings.ray_address)
    try:
        if settings.ray_address:
            ray.init(
                address=settings.ray_address,
                namespace=NAMESPACE,
                logging_level=logging.WARNING,
                log_to_driver=False,
            )
        else:
            cores = os.cpu_count() or 1
            ray.init(
                namespace=NAMESPACE,
                num_cpus=max(cores, worker_count(settings.workers or "auto")),
                include_dashboard=False,
                object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                logging_level=logging.WARNING,
                log_to_driver=False,
            )
    except Exception as error:  # Ray raises ConnectionError, RuntimeError, ValueError …
        where = f"at {settings.ray_address}" if settings.ray_address else "on this machine"
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ClusterUnavailableError(
            f"Ray could not be {'reached' if settings.ray_address else 'started'} {where}: "
            f"{type(error).__name__}: {first_line[:200]}"
        ) from None


def existing_workers() -> int:
    """How many named workers the cluster already runs (0, 1, … n-1 all there)."""
    import ray

    names = {entry for entry in ray.util.list_named_actors() if entry.startswith(NAME_PREFIX)}
    count = 0
    while worker_name(count) in names:
        count += 1
    return count


def start_workers(settings: Settings) -> list[Any]:
    """The workers' handles, started when missing, each answering (its app built)."""
    ray = import_ray()
    from .worker import SessionWorker

    found = existing_workers() if settings.ray_address else 0
    count = found or worker_count(settings.workers or "auto")
    if found:
        log.info("using the cluster's %d session workers", found)
    actor = ray.remote(
        num_cpus=1,
        max_restarts=-1,  # a worker process that dies comes back (its sessions from the store)
        max_concurrency=10_000,  # an async actor: every socket holds one waiting take
        scheduling_strategy="SPREAD",
    )(SessionWorker)
    lifetime = "detached" if settings.ray_address else None
    environment = worker_environment(settings)
    handles = [
        actor.options(name=worker_name(i), get_if_exists=True, lifetime=lifetime).remote(
            i, count, environment
        )
        for i in range(count)
    ]
    try:
        ray.get([handle.info.remote() for handle in handles], timeout=READY_SECONDS)
    except Exception as error:
        raise ClusterUnavailableError(
            f"the {count} session workers did not start within {READY_SECONDS:.0f} s: "
            f"{type(error).__name__}: {str(error).strip()[:200]}"
        ) from None
    return handles


def find_workers() -> list[Any]:
    """The running workers' handles, in order (a web process after ``start_workers``)."""
    import ray

    return [ray.get_actor(worker_name(i)) for i in range(existing_workers())]
