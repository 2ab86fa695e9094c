"""The live sessions: created, found (from memory or the store), saved, expired, bounded.

REST handlers save a session before they answer; the live stream saves a playing session
every ``persist_interval_seconds`` (``save_due`` says when) and when it pauses.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from app.engine import ConfigError
from app.settings import Settings

from .access import same_token
from .memory import SessionShape, check_memory_budget, release_memory
from .quotas import ANONYMOUS, ClientKey, QuotaExceededError, check_counts
from .session import Session, build_dataset, model_config_for, new_token, resolve_config
from .store import Store, dumps

log = logging.getLogger("app.sessions")


class SessionNotFoundError(LookupError):
    """No session (or dataset) with that id."""


class SessionDamagedError(SessionNotFoundError):
    """The session's stored row could not be read; it was set aside (health lists it), and
    only deleting it (with its control token) is left."""

    def __init__(self, session_id: str, token: str, watch_token: str, reason: str) -> None:
        super().__init__(
            f"session {session_id!r} could not be read from the store ({reason}); it was set "
            "aside: delete it with its control token and start a new one"
        )
        self.session_id = session_id
        self.token = token
        self.watch_token = watch_token
        self.reason = reason


class LimitReachedError(QuotaExceededError):
    """A server-wide limit (sessions, datasets …) is reached; ``quota`` names its setting."""

    def __init__(self, message: str, quota: str = "", retry_after: float = 60.0) -> None:
        super().__init__(quota, message, retry_after)


# The session's ``version`` (its changes so far), kept in the stored export beside it.
STORED_VERSION = "session_version"


def stored_version(exported: dict[str, Any]) -> int:
    """The version a stored session had (0 for a row stored before it was kept)."""
    version = exported.get(STORED_VERSION)
    return version if isinstance(version, int) and not isinstance(version, bool) else 0


def not_found(session_id: str) -> SessionNotFoundError:
    return SessionNotFoundError(f"no session {session_id!r} (it may have expired)")


class KeptIds:
    """The ids an expiry of the store must not delete: those live here, and those another
    process hosts (it expires its own)."""

    def __init__(self, live: set[str], hosts: Callable[[str], bool]) -> None:
        self.live = live
        self.hosts = hosts

    def __contains__(self, session_id: object) -> bool:
        if session_id in self.live:
            return True
        return isinstance(session_id, str) and not self.hosts(session_id)

    def __iter__(self) -> Iterator[str]:
        return iter(self.live)

    def __len__(self) -> int:
        return len(self.live)


class SessionManager:
    """Owns every Session object and the Store behind them."""

    # Which sessions this process hosts, when it shares the store with others that host the
    # rest (app.cluster's workers; its web process hosts none); None: every session.
    hosts: Callable[[str], bool] | None = None

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self._sessions: dict[str, Session] = {}
        self._saved_at: dict[str, float] = {}
        # Per Session object: which export was stored last (exports are numbered as taken).
        self._saved_export: weakref.WeakKeyDictionary[Session, int] = weakref.WeakKeyDictionary()
        self._exports = itertools.count()
        # Deleted ids → when: nothing loads or stores them again (a DELETE answered is final).
        self._tombstones: dict[str, float] = {}
        self._lock = threading.Lock()
        self._save_lock = threading.Lock()
        self._upload_lock = threading.Lock()  # a client's quota is checked and used at once
        # Creating: the cap is checked and the place taken at once (``_placing`` counts the
        # sessions being built, not stored yet), so concurrent creates never overshoot it.
        self._place_lock = threading.Lock()
        self._placing = 0
        self._owners: dict[str, ClientKey] = {}  # session id → the client that made it
        for session_id, reason in store.unparsable_sessions():
            self.set_aside(session_id, reason)

    # ----- creating ------------------------------------------------------------------------

    @contextlib.contextmanager
    def _place(self, client: ClientKey) -> Iterator[None]:
        """A place for one more session of ``client``, held while it is built and stored:
        LimitReachedError (the server's cap) or QuotaExceededError (the client's)."""
        s = self.settings
        with self._place_lock:
            if self.store.count_sessions() + self._placing >= s.max_sessions:
                raise LimitReachedError(
                    f"the server holds its maximum of {s.max_sessions} sessions (max_sessions); "
                    "delete one or try later",
                    "max_sessions",
                )
            owners = list(self._owners.values())
            check_counts(
                "sessions",
                client,
                (owners.count(client), sum(o.address == client.address for o in owners)),
                (s.max_sessions_per_client, s.max_sessions_per_address),
                ("max_sessions_per_client", "max_sessions_per_address"),
                min(s.session_ttl_seconds, 3600.0),
                "delete one (DELETE /api/sessions/{id}) or wait until one expires",
            )
            self._placing += 1
        try:
            yield
        finally:
            with self._place_lock:
                self._placing -= 1

    def owned_by(self, session: Session, client: ClientKey) -> None:
        """Count ``session`` against ``client``'s quota until it is deleted or expires."""
        with self._place_lock:
            self._owners[session.id] = client

    def create(
        self,
        request: dict[str, Any],
        upload_token: str | None = None,
        client: ClientKey = ANONYMOUS,
    ) -> Session:
        """Build a session from a preset and/or config; stored before it is returned.

        ``upload_token``: the owner token of the uploaded dataset ``data.upload`` names;
        ``client``: who asks (its quota of sessions)."""
        self.expire_idle()
        with self._place(client):
            session = self._create(request, upload_token)
            self.owned_by(session, client)
        return session

    def _create(self, request: dict[str, Any], upload_token: str | None) -> Session:
        config = resolve_config(request)
        dataset = build_dataset(
            config["data"], lambda dataset_id: self.uploaded_dataset(dataset_id, upload_token)
        )
        self.check_dataset_size(len(dataset.x_train) + len(dataset.x_test))
        config["model"] = model_config_for(config["model"], dataset)
        self.check_network_size(config["model"])
        model = config["model"]
        shape = SessionShape(
            [int(layer["units"]) for layer in model.get("layers") or []],
            int(model.get("input_size") or dataset.x_train.shape[1]),
            len(dataset.x_train),
            len(dataset.x_train) + len(dataset.x_test),
            model.get("batch_size", 10),
        )
        check_memory_budget(shape, self.settings.max_session_bytes)
        session = Session(config, dataset)
        self._apply_settings(session)
        self.save(session)
        with self._lock:
            self._sessions[session.id] = session
        log.info("session created id=%s preset=%s", session.id[:8], config["preset"])
        return session

    def import_session(self, exported: dict[str, Any], client: ClientKey = ANONYMOUS) -> Session:
        """A new session (new id and tokens) continuing exactly from an export."""
        config = exported.get("config") if isinstance(exported, dict) else None
        if isinstance(config, dict) and isinstance(config.get("model"), dict):
            self.check_network_size(config["model"])
        self.check_imported_data(exported.get("data"))
        session = Session.from_export(exported)
        self.check_dataset_size(len(session.dataset.x_train) + len(session.dataset.x_test))
        check_memory_budget(
            session.shape(session.model.config.batch_size), self.settings.max_session_bytes
        )
        return self.add(session, client)

    def add(self, session: Session, client: ClientKey = ANONYMOUS) -> Session:
        """Keep a session built elsewhere (an import, a branch): limits, settings, stored."""
        with self._place(client):
            self._keep(session)
            self.owned_by(session, client)
        return session

    def _keep(self, session: Session) -> None:
        self._apply_settings(session)
        session.playing = False
        self.save(session)
        with self._lock:
            self._sessions[session.id] = session

    def _apply_settings(self, session: Session) -> None:
        session.max_trace_rows = self.settings.max_trace_rows
        session.max_bytes = self.settings.max_session_bytes
        session.timeline.configure(
            self.settings.timeline_checkpoint_every,
            self.settings.timeline_max_bytes,
            self.settings.timeline_max_replay_seconds,
        )

    def check_network_size(self, model: dict[str, Any]) -> None:
        """Layers, units and parameters within the configured limits (422 otherwise)."""
        s = self.settings
        layers = model.get("layers") or []
        if len(layers) > s.max_layers:
            raise ConfigError("model.layers", f"at most {s.max_layers} layers, got {len(layers)}")
        n_in = int(model.get("input_size") or 0)
        if n_in > s.max_units:
            raise ConfigError("model.input_size", f"at most {s.max_units} inputs, got {n_in}")
        parameters = 0
        for k, layer in enumerate(layers):
            units = int(layer.get("units", 0)) if isinstance(layer, dict) else 0
            if units > s.max_units:
                raise ConfigError(
                    f"model.layers[{k}].units", f"at most {s.max_units} units, got {units}"
                )
            parameters += n_in * units + units
            n_in = units
        if parameters > s.max_parameters:
            raise ConfigError(
                "model.layers",
                f"{parameters} parameters is more than the limit of {s.max_parameters}",
            )

    def check_imported_data(self, data: Any) -> None:
        """An import's rows obey the limits of an upload: rows, columns and bytes."""
        if not isinstance(data, dict):
            return  # from_export names what is missing
        s = self.settings
        x_train = data.get("x_train") or []
        width = len(x_train[0]) if x_train and isinstance(x_train[0], list) else 0
        if width + 1 > s.max_dataset_columns:  # the features and a target, as a CSV has them
            raise ConfigError(
                "data.x_train",
                f"at most {s.max_dataset_columns - 1} features (and a target), got {width}",
            )
        size = len(dumps(data))
        if size > s.max_upload_bytes:
            raise ConfigError(
                "data", f"the export's data is {size} bytes; at most {s.max_upload_bytes}"
            )

    def check_dataset_size(self, rows: int) -> None:
        if rows > self.settings.max_dataset_rows:
            raise ConfigError(
                "data.n_samples", f"at most {self.settings.max_dataset_rows} rows, got {rows}"
            )

    # ----- finding -------------------------------------------------------------------------

    def get(self, session_id: str) -> Session:
        """The session with that id, loaded from the store if it isn't in memory."""
        with self._lock:
            if session_id in self._tombstones:
                raise not_found(session_id)
            session = self._sessions.get(session_id)
        if session is not None:
            return session
        try:
            stored = self.store.load_session(session_id)
        except ValueError as error:  # not JSON
            self.set_aside(session_id, f"not JSON: {error}")
            stored = None
        if stored is None:
            damaged = self.store.damaged_session(session_id)
            if damaged is not None:
                raise SessionDamagedError(session_id, *damaged)
            raise not_found(session_id)
        exported, token, watch_token = stored
        try:
            session = Session.from_export(
                exported, keep_identity=True, token=token, watch_token=watch_token
            )
        except (ConfigError, ValueError, TypeError, KeyError, IndexError, OverflowError) as error:
            reason = f"not a session export: {error}"
            self.set_aside(session_id, reason)
            raise SessionDamagedError(session_id, token, watch_token, reason) from None
        self._apply_settings(session)
        session.version = stored_version(exported)
        session.playing = False  # nothing plays it after a restart until a client says play
        with self._lock:
            if session_id in self._tombstones:  # deleted while it was being loaded
                raise not_found(session_id)
            # Another thread may have loaded it meanwhile: keep the first, one object per id.
            session = self._sessions.setdefault(session_id, session)
        return session

    def forget(self, session_id: str) -> None:
        """Drop the session from memory only; the store keeps it. For a worker that built or
        read a session another worker hosts: one copy in memory, on the host."""
        with self._lock:
            self._sessions.pop(session_id, None)
            self._saved_at.pop(session_id, None)

    def set_aside(self, session_id: str, reason: str) -> None:
        """Move an unreadable stored session out of the way (health lists it)."""
        self.store.set_aside(session_id, reason)
        log.warning(
            "session %s set aside: its stored row is unreadable (%s)", session_id[:8], reason
        )

    def damaged_ids(self) -> list[str]:
        """The sessions set aside because their stored rows could not be read."""
        return self.store.damaged_ids()

    def is_deleted(self, session_id: str) -> bool:
        """True once a DELETE of this id has begun: it is never loaded or stored again."""
        with self._lock:
            return session_id in self._tombstones

    def loaded(self) -> list[Session]:
        with self._lock:
            return list(self._sessions.values())

    def delete(self, session_id: str) -> None:
        """Forget the session for good: from here on no call finds it, no save stores it.

        A set-aside (damaged) session is deleted from the store's ``damaged_sessions``."""
        try:
            self.get(session_id)  # SessionNotFoundError for an unknown (or already deleted) id
        except SessionDamagedError:
            self.store.delete_damaged(session_id)
            log.info("damaged session deleted id=%s", session_id[:8])
            return
        with self._lock:
            if session_id in self._tombstones:  # a concurrent DELETE came first
                raise not_found(session_id)
            self._tombstones[session_id] = time.time()
            session = self._sessions.pop(session_id, None)
            self._saved_at.pop(session_id, None)
        with self._place_lock:
            self._owners.pop(session_id, None)
        if session is not None:
            session.playing = False
            session._changed("deleted", {})
        with self._save_lock:  # a save already writing finishes first; the row goes after it
            self.store.delete_session(session_id)
        release_memory()
        log.info("session deleted id=%s", session_id[:8])

    # ----- saving and expiring -------------------------------------------------------------

    def save(self, session: Session) -> None:
        """Store the session now (REST calls do this before answering).

        The export is taken under the session's lock, the write is not (training goes on
        meanwhile); two saves racing never leave the older export on disk.
        """
        with session.lock:
            exported = session.export()
            exported[STORED_VERSION] = session.version  # a restart goes on counting from here
            taken = next(self._exports)  # in export order: answers change no version
        with self._save_lock:
            if self.is_deleted(session.id) or self._saved_export.get(session, -1) > taken:
                return  # deleted, or a newer export is already stored
            upload = session.config["data"].get("upload")
            self.store.save_session(
                exported, session.token, session.watch_token, upload=upload and str(upload)
            )
            self._saved_export[session] = taken
            self._saved_at[session.id] = time.monotonic()

    def save_due(self, session: Session) -> bool:
        """Have ``persist_interval_seconds`` passed since the session was last stored (and is
        it still there to store: never a deleted one)?"""
        if self.is_deleted(session.id):
            return False
        last = self._saved_at.get(session.id, 0.0)
        return time.monotonic() - last >= self.settings.persist_interval_seconds

    def expire_idle(self) -> list[str]:
        """Forget sessions unused for ``session_ttl_seconds`` (memory and store)."""
        cutoff = time.time() - self.settings.session_ttl_seconds
        with self._lock:
            # A tombstone outlives any call that could still hold its session.
            self._tombstones = {sid: t for sid, t in self._tombstones.items() if t >= cutoff}
            stale = [
                sid for sid, s in self._sessions.items() if s.last_used < cutoff and not s.playing
            ]
            for sid in stale:
                self._sessions.pop(sid, None)
                self._saved_at.pop(sid, None)
        live = {s.id for s in self.loaded()}
        keep = live if self.hosts is None else KeptIds(live, self.hosts)
        expired = self.store.expire_sessions(cutoff, keep=keep)  # live ones stay stored
        with self._place_lock:  # a session stale in memory but kept in the store still counts
            for sid in expired:
                self._owners.pop(sid, None)
        uploads = self.store.expire_datasets(cutoff)  # unused by any session for the TTL
        if uploads:
            log.info("expired %d unused upload(s)", len(uploads))
        if stale or expired or uploads:
            release_memory()
        return sorted(set(stale) | set(expired))

    # ----- uploaded datasets ---------------------------------------------------------------

    def uploaded_dataset(self, dataset_id: str, owner: str | None) -> dict[str, Any]:
        """The table of an upload, for its owner only (anyone else: as if it did not exist)."""
        stored = self.store.load_dataset(dataset_id)
        if stored is None or owner is None or not stored[0] or not same_token(owner, stored[0]):
            raise ConfigError(
                "data.upload",
                f"no uploaded dataset {dataset_id[:40]!r} of yours: send its upload token as "
                "'Authorization: Bearer <token>'",
            )
        return stored[1]

    def add_dataset(
        self, name: str, table: dict[str, Any], owner: str | None, client: ClientKey
    ) -> tuple[str, str]:
        """Store an upload → (id, owner token). ``owner``: the token of the client's earlier
        uploads (kept when the server knows it; a new one otherwise)."""
        with self._upload_lock:
            return self._add_dataset(name, table, owner, client)

    def _add_dataset(
        self, name: str, table: dict[str, Any], owner: str | None, client: ClientKey
    ) -> tuple[str, str]:
        s = self.settings
        check_counts(
            "uploads",
            client,
            (
                self.store.count_datasets(client.key),
                self.store.count_datasets(address=client.address),
            ),
            (s.max_uploads_per_client, s.max_uploads_per_address),
            ("max_uploads_per_client", "max_uploads_per_address"),
            min(s.session_ttl_seconds, 3600.0),
            "delete one (DELETE /api/datasets/{id}) or wait until one expires",
        )
        if self.store.count_datasets() >= s.max_datasets:
            self.expire_idle()
            if self.store.count_datasets() >= s.max_datasets:
                raise LimitReachedError(
                    f"the server holds its maximum of {s.max_datasets} uploaded datasets",
                    "max_datasets",
                )
        if owner is None or not self.store.owner_exists(owner):
            owner = new_token()
        dataset_id = new_token()[:22]
        self.store.save_dataset(dataset_id, name, table, owner, client.key)
        return dataset_id, owner

    def list_uploads(self, owner: str | None) -> list[dict[str, Any]]:
        """The uploads of the owner of this token (none without one)."""
        return [] if owner is None else self.store.list_datasets(owner)

    def delete_dataset(self, dataset_id: str, owner: str) -> None:
        """Delete an upload of this owner; SessionNotFoundError for anyone else's."""
        stored = self.store.load_dataset(dataset_id)
        if stored is None or not stored[0] or not same_token(owner, stored[0]):
            raise SessionNotFoundError(f"no uploaded dataset {dataset_id[:40]!r} of yours")
        self.store.delete_dataset(dataset_id)
