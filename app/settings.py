"""Every setting and limit, read from ``PLAYGROUND_*`` environment variables, defined once.

Example: ``PLAYGROUND_DATA_DIR=/var/lib/playground PLAYGROUND_MAX_SESSIONS=500 make run``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """The server's settings; each field is ``PLAYGROUND_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="PLAYGROUND_", env_file=None, extra="ignore")

    host: str = Field("127.0.0.1", description="Address the server listens on.")
    port: int = Field(8000, ge=1, le=65535, description="TCP port.")
    data_dir: Path = Field(Path("data"), description="Folder of the SQLite file and uploads.")
    database_url: str = Field(
        "",
        repr=False,  # it may hold a password: never in a log or a traceback's locals
        description="A `postgresql://user:password@host:port/database` URL: sessions and "
        "uploads go to that PostgreSQL database (shared by several web processes; needs the "
        "`[cluster]` extra); empty: the SQLite file in the data folder.",
    )
    log_level: str = Field("info", description="debug, info, warning or error.")
    workers: str = Field(
        "",
        pattern=r"^(|auto|[1-9][0-9]*)$",
        description="Sessions on this many worker processes (a number, or `auto`: the "
        "machine's cores), hosted by Ray (needs the `[cluster]` extra); this process keeps "
        "the page and the sockets and forwards to the session's worker. Empty: sessions in "
        "the server process.",
    )
    ray_address: str = Field(
        "",
        description="Join the Ray cluster whose head is at this `HOST:PORT` instead of "
        "starting one (needs the `[cluster]` extra): its session workers are used, or "
        "`workers` of them started once; several web processes may join one cluster.",
    )

    # Network size
    max_layers: int = Field(8, ge=1, description="Dense layers per network.")
    max_units: int = Field(256, ge=1, description="Units in one layer (and inputs).")
    max_parameters: int = Field(250_000, ge=1, description="Weights + biases per network.")
    # Sessions
    max_sessions: int = Field(500, ge=1, description="Live sessions at once (429 past it).")
    session_ttl_seconds: float = Field(
        6 * 3600, gt=0, description="A session unused this long expires."
    )
    persist_interval_seconds: float = Field(
        1.0, gt=0, description="A playing session is stored at least this often."
    )
    # Classes
    max_classes: int = Field(100, ge=1, description="Open classes at once (429 past it).")
    class_ttl_seconds: float = Field(
        6 * 3600, gt=0, description="A class nobody follows or moves this long is forgotten."
    )
    # Predict, then reveal (questions to a class)
    question_max_answers: int = Field(
        500,
        ge=1,
        description="Names one class question takes, each an answer a round (the next is refused).",
    )
    question_max_name_length: int = Field(
        40, ge=1, le=200, description="Characters of the name a student answers under."
    )
    question_tolerance: float = Field(
        0.1, gt=0, le=1, description="Relative tolerance of a value question when none is given."
    )
    question_max_kept: int = Field(
        50, ge=1, description="Questions (with their answers) kept per session; oldest go."
    )
    question_max_rounds: int = Field(
        3, ge=1, le=10, description="Rounds of one question (vote, discuss, vote again …)."
    )
    question_histogram_bins: int = Field(
        10, ge=1, le=100, description="Bars of the teacher's live histogram of answers."
    )
    # Data
    max_dataset_rows: int = Field(10_000, ge=4, description="Rows in one dataset.")
    max_dataset_columns: int = Field(64, ge=2, description="Columns in an uploaded CSV.")
    max_upload_bytes: int = Field(2_000_000, ge=1, description="Size of one CSV upload.")
    max_datasets: int = Field(200, ge=1, description="Uploaded datasets kept, in all.")
    # Work per call
    max_units_per_step: int = Field(10_000, ge=1, description="`count` of one step call.")
    max_step_seconds: float = Field(
        5.0, gt=0, description="CPU budget of one step call; it stops early past it."
    )
    max_request_bytes: int = Field(4_000_000, ge=1, description="Size of one request body.")
    max_trace_rows: int = Field(
        100, ge=1, description="Batch rows of activations/deltas sent per layer in a state."
    )
    max_boundary_resolution: int = Field(100, ge=2, description="Grid side of /boundary.")
    max_predict_rows: int = Field(10_000, ge=1, description="Rows in one predict call.")
    max_gradcheck_entries: int = Field(
        200, ge=1, description="Weights perturbed per layer by /gradcheck."
    )
    # Costly reads (/gradcheck): a pool of their own, a time budget, caps on who asks
    max_gradcheck_seconds: float = Field(
        2.0, gt=0, description="Time budget of one /gradcheck; past it, it answers what it checked."
    )
    costly_threads: int = Field(
        1, ge=1, description="Threads running costly reads, apart from every other request's."
    )
    max_costly_waiting: int = Field(
        4, ge=0, description="Costly reads waiting for one of those threads, in all (429 past it)."
    )
    max_costly_per_session: int = Field(
        1, ge=1, description="Costly reads of one session at once (429 past it)."
    )
    max_costly_per_client: int = Field(
        2, ge=1, description="Costly reads of one client address at once (429 past it)."
    )
    # Grading (POST …/grade): each common mistake tried is a backward pass of the batch, so a
    # pool of its own, like the replays', sized for a class grading on the teacher's session
    # (most grades take milliseconds; the largest session's whole search, seconds)
    max_grade_seconds: float = Field(
        5.0,
        gt=0,
        description="Time budget of one POST …/grade's search for the mistake; past it, it "
        "answers every layer's verdict and the causes found so far.",
    )
    grade_threads: int = Field(
        1, ge=1, description="Threads grading submissions, apart from every other request's."
    )
    max_grade_waiting: int = Field(
        16, ge=0, description="Grades waiting for one of those threads, in all (429 past it)."
    )
    max_grade_per_session: int = Field(
        8, ge=1, description="Grades of one session at once (429 past it)."
    )
    max_grade_per_client: int = Field(
        2, ge=1, description="Grades of one client (browser) at once (429 past it)."
    )
    shutdown_grace_seconds: int = Field(
        3, ge=1, description="On SIGTERM, requests still running this long are cancelled."
    )
    max_worksheet_rows: int = Field(8, ge=1, description="Training rows on a printed worksheet.")
    max_worksheet_units: int = Field(
        16, ge=1, description="Units (and inputs) per layer a worksheet prints."
    )
    max_worksheets_per_file: int = Field(
        300, ge=1, description="Students' sheets in a class's printable file (422 past it)."
    )
    # Rewind and branch
    timeline_checkpoint_every: int = Field(
        250, ge=1, description="Batches between a session's timeline checkpoints (at first)."
    )
    timeline_max_bytes: int = Field(
        2_000_000,
        ge=0,
        description="Checkpoint memory per session; past it every other one goes, gaps double.",
    )
    timeline_max_replay_seconds: float = Field(
        10.0, gt=0, description="Time budget of one rewind or branch replay; past it a 422."
    )
    # Replays (…/at, …/branch): a pool of their own, like the costly reads, with room for a
    # class scrubbing one session's timeline (most replays take milliseconds)
    replay_threads: int = Field(
        2, ge=1, description="Threads running rewind and branch replays, apart from the rest."
    )
    max_replay_waiting: int = Field(
        16, ge=0, description="Replays waiting for one of those threads, in all (429 past it)."
    )
    max_replay_per_session: int = Field(
        8, ge=1, description="Replays of one session at once (429 past it)."
    )
    max_replay_per_client: int = Field(
        2, ge=1, description="Replays of one client (browser) at once (429 past it)."
    )
    # Live streaming
    default_frame_rate: float = Field(30.0, gt=0, description="Frames/s a client gets.")
    max_frame_rate: float = Field(60.0, gt=0, description="Highest frame-rate cap.")
    max_steps_per_second: float = Field(
        10_000.0, gt=0, description="Highest play rate a client may ask (steps/s)."
    )
    orphan_play_seconds: float = Field(
        300.0, gt=0, description="A session still playing after its last socket left is paused."
    )
    max_clients_per_session: int = Field(500, ge=1, description="Sockets on one session.")
    max_ws_message_bytes: int = Field(65_536, ge=64, description="One client message.")
    max_ws_commands_per_second: float = Field(
        50.0, gt=0, description="Commands one client may send per second."
    )
    ws_compression: bool = Field(
        False,
        description="Compress websocket messages (permessage-deflate): a frame shrinks to "
        "about a third, but every socket's copy is compressed anew (about 0.25 ms of CPU "
        "per frame sent).",
    )
    # Per-client quotas and the memory budget (issue 21; docs/security.md). A client is one
    # browser (the `bp_client` cookie the server issues) at one address; a client without the
    # cookie is its address's anonymous client. 429s name the setting and say when to retry.
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses of reverse proxies whose `X-Forwarded-For` names the client; "
        "empty: none is trusted and forwarded headers are ignored.",
    )
    # A lecture hall behind one school address: 300 browsers, two sockets each (the class and
    # the session it follows), answering within a second (issue 23).
    max_clients_per_address: int = Field(
        400,
        ge=1,
        description="Browsers (client ids) one address has at a time; more share "
        "the address's anonymous client.",
    )
    max_sessions_per_client: int = Field(
        20, ge=1, description="Live sessions one client created (429 past it)."
    )
    max_sessions_per_address: int = Field(
        100, ge=1, description="Live sessions the clients of one address created."
    )
    max_classes_per_client: int = Field(3, ge=1, description="Open classes one client opened.")
    max_classes_per_address: int = Field(
        20, ge=1, description="Open classes the clients of one address opened."
    )
    max_uploads_per_client: int = Field(
        10, ge=1, description="Uploaded datasets kept per client (429 past it)."
    )
    max_uploads_per_address: int = Field(
        50, ge=1, description="Uploaded datasets kept for the clients of one address."
    )
    max_sockets_per_client: int = Field(
        30, ge=1, description="Open sockets (session and class) of one client."
    )
    max_sockets_per_address: int = Field(
        1000, ge=1, description="Open sockets of the clients of one address."
    )
    control_sockets_reserved: int = Field(
        5,
        ge=1,
        description="Of `max_clients_per_session`, places only control sockets take "
        "(at most half).",
    )
    max_answers_per_client: int = Field(
        2, ge=1, description="Names one client answers one question under (each may answer again)."
    )
    answers_per_minute_per_page: float = Field(
        20.0,
        gt=0,
        description="Answers one page (class socket) sends per minute (bursts of 10 s' worth).",
    )
    answers_per_minute_per_client: float = Field(
        30.0, gt=0, description="Answers one client sends per minute (bursts of 10 s' worth)."
    )
    answers_per_minute_per_address: float = Field(
        6000.0,
        gt=0,
        description="Answers the clients of one address send per minute (10 s' worth at once).",
    )
    max_session_bytes: int = Field(
        64_000_000,
        ge=1_000_000,
        description="Memory budget of one session (its rows, the widest layer's batch "
        "arrays and their traces, as `estimate_session_bytes` models them); 422 past it.",
    )

    # HTTP
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Other origins allowed to call the API (CORS) and open its websocket; "
        "empty: the server's own origin only.",
    )
    public_url: str = Field(
        "",
        pattern=r"^(|https?://[^/?#\s]+/?)$",
        description="The address students open, as `http://HOST:PORT`: class links and QR "
        "codes name it. Empty: the address the teacher's page came from; `make classroom` "
        "sets it to this machine's LAN address.",
    )


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read from the environment once."""
    return Settings()
