"""``backprop-playground``: serve the playground (``python -m app`` does the same)."""

from __future__ import annotations

import argparse
import logging
import os
import threading
import webbrowser
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import FrameType

import uvicorn

from app.lan import Interface, lan_base_url
from app.service.stopping import request_stop

LOG_LEVELS = ("debug", "info", "warning", "error")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backprop-playground",
        description="See backpropagation happen: serve the playground page and its API. "
        "Every option can also be set as a PLAYGROUND_* environment variable.",
    )
    env = os.environ.get
    parser.add_argument(
        "--host",
        default=env("PLAYGROUND_HOST"),
        help="address to listen on (default 127.0.0.1; with --classroom 0.0.0.0)",
    )
    parser.add_argument(
        "--port", type=int, default=int(env("PLAYGROUND_PORT", "8000")), help="TCP port"
    )
    parser.add_argument(
        "--data-dir",
        default=env("PLAYGROUND_DATA_DIR", "data"),
        help="folder for the SQLite file (sessions, uploads)",
    )
    parser.add_argument(
        "--database-url",
        default=env("PLAYGROUND_DATABASE_URL", ""),
        metavar="URL",
        help="postgresql://USER:PASSWORD@HOST:PORT/DATABASE: keep sessions and uploads in "
        "PostgreSQL instead of the SQLite file (needs the [cluster] extra; prefer the "
        "environment variable, which other users cannot see in the process list)",
    )
    parser.add_argument(
        "--workers",
        default=env("PLAYGROUND_WORKERS", ""),
        metavar="N|auto",
        help="run sessions on N worker processes (auto: one per core), hosted by Ray (needs "
        "the [cluster] extra); default: sessions in this process",
    )
    parser.add_argument(
        "--ray-address",
        default=env("PLAYGROUND_RAY_ADDRESS", ""),
        metavar="HOST:PORT",
        help="join this Ray cluster (its session workers) instead of starting Ray here; "
        "several web processes can serve the same sessions (needs the [cluster] extra)",
    )
    parser.add_argument(
        "--log-level",
        default=env("PLAYGROUND_LOG_LEVEL", "info"),
        choices=LOG_LEVELS,
        help="how much to log",
    )
    parser.add_argument(
        "--classroom",
        action="store_true",
        help="serve a class on the local network: listen on every interface and name this "
        "machine's LAN address in class links and QR codes (PLAYGROUND_PUBLIC_URL overrides)",
    )
    parser.add_argument("--open", action="store_true", help="open the page in a browser")
    return parser


def listen_host(host: str | None, classroom: bool) -> str:
    """The address to listen on: the one asked for, else every interface for a classroom and
    loopback otherwise (`make run` never reaches beyond this machine)."""
    return host or ("0.0.0.0" if classroom else "127.0.0.1")


def classroom_url(port: int, interfaces: Iterable[Interface] | None = None) -> str:
    """The address students open: PLAYGROUND_PUBLIC_URL, else this machine's LAN address."""
    chosen = os.environ.get("PLAYGROUND_PUBLIC_URL") or lan_base_url(port, interfaces)
    if not chosen:
        raise SystemExit(
            "backprop-playground: no network address for the students' phones (only loopback, "
            "link-local or virtual interfaces): join the school's network, or set "
            "PLAYGROUND_PUBLIC_URL=http://HOST:PORT"
        )
    return chosen


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the options, export them as PLAYGROUND_* for the settings, run uvicorn."""
    args = build_parser().parse_args(argv)
    if not 1 <= args.port <= 65535:
        raise SystemExit(f"--port must be 1…65535, got {args.port}")
    args.host = listen_host(args.host, args.classroom)
    if args.classroom:
        os.environ["PLAYGROUND_PUBLIC_URL"] = classroom_url(args.port)
    os.environ["PLAYGROUND_HOST"] = args.host
    os.environ["PLAYGROUND_PORT"] = str(args.port)
    os.environ["PLAYGROUND_DATA_DIR"] = args.data_dir
    os.environ["PLAYGROUND_DATABASE_URL"] = args.database_url
    os.environ["PLAYGROUND_LOG_LEVEL"] = args.log_level
    clustered = bool(args.workers or args.ray_address)
    if clustered:
        valid = args.workers in ("", "auto") or (args.workers.isdigit() and int(args.workers) > 0)
        if not valid:
            raise SystemExit(f"--workers must be a number ≥ 1 or auto, got {args.workers!r}")
        os.environ["PLAYGROUND_WORKERS"] = args.workers
        os.environ["PLAYGROUND_RAY_ADDRESS"] = args.ray_address
    from app.logs import configure_logging
    from app.service.store import StoreUnusableError, open_store
    from app.settings import get_settings

    try:  # a store that cannot be used ends here, in one line, before anything is served
        open_store(Path(args.data_dir), args.database_url).close()
    except StoreUnusableError as error:
        raise SystemExit(f"backprop-playground: {error}") from None

    configure_logging(args.log_level)
    if clustered:
        start_cluster()
    url = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{args.port}/"
    if args.open:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    logging.getLogger("app").info("serving the playground at %s", url)
    if args.classroom:
        logging.getLogger("app").info(
            "students open %s on their phones (or scan the class's QR code)",
            os.environ["PLAYGROUND_PUBLIC_URL"],
        )
    config = uvicorn.Config(
        "app.cluster.web:create_web_app" if clustered else "app.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,  # app.logs writes one line per request, without tokens
        proxy_headers=False,  # X-Forwarded-For only from trusted_proxies (app.api.clients)
        # Deflate is per socket: every watcher's copy of a frame is compressed anew.
        ws_per_message_deflate=get_settings().ws_compression,
        # A request still running this long after SIGTERM is cancelled: a stop takes seconds.
        timeout_graceful_shutdown=get_settings().shutdown_grace_seconds,
    )
    StoppingServer(config).run()


class StoppingServer(uvicorn.Server):
    """uvicorn's server, which on SIGTERM (or Ctrl-C) also ends long work at its next piece:
    a gradient check answers what it has checked, a step call what it has run, instead of
    holding the stop up for their whole budgets."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        request_stop()
        super().handle_exit(sig, frame)


def start_cluster() -> None:
    """Join or start Ray and its session workers before serving; one line if that fails."""
    from app.cluster.start import ClusterUnavailableError, connect, start_workers
    from app.settings import get_settings

    settings = get_settings()
    try:
        connect(settings)
        start_workers(settings)
    except ClusterUnavailableError as error:
        raise SystemExit(f"backprop-playground: {error}") from None
