"""The live sessions: created, found (from memory or the store), saved, expired, bounded.

REST handlers save a session before they answer; the live stream saves a playing session
at most every ``persist_interval_seconds`` and when it pauses (``save_if_due``).
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import Any

from app.engine import ConfigError
from app.settings import Settings

from .memory import release_memory
from .session import Session, build_dataset, model_config_for, new_token, resolve_config
from .store import Store

log = logging.getLogger("app.sessions")


class SessionNotFoundError(LookupError):
    """No session (or dataset) with that id."""


class LimitReachedError(RuntimeError):
    """A configured limit (sessions, datasets …) is reached; the message names it."""


class SessionManager:
    """Owns every Session object and the Store behind them."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self._sessions: dict[str, Session] = {}
        self._saved_at: dict[str, float] = {}
        # Per Session object (a reloaded session starts again at version 0).
        self._saved_version: weakref.WeakKeyDictionary[Session, int] = weakref.WeakKeyDictionary()
        self._deleted: weakref.WeakSet[Session] = weakref.WeakSet()  # never stored again
        self._lock = threading.Lock()
        self._save_lock = threading.Lock()

    # ----- creating ------------------------------------------------------------------------

    def create(self, request: dict[str, Any]) -> Session:
        """Build a session from a preset and/or config; stored before it is returned."""
        self.expire_idle()
        if self.store.count_sessions() >= self.settings.max_sessions:
            raise LimitReachedError(
                f"the server holds its maximum of {self.settings.max_sessions} sessions; "
                "delete one or try later"
            )
        config = resolve_config(request)
        dataset = build_dataset(config["data"], self.uploaded_dataset)
        self.check_dataset_size(len(dataset.x_train) + len(dataset.x_test))
        config["model"] = model_config_for(config["model"], dataset)
        self.check_network_size(config["model"])
        session = Session(config, dataset)
        self._apply_settings(session)
        self.save(session)
        with self._lock:
            self._sessions[session.id] = session
        log.info("session created id=%s preset=%s", session.id[:8], config["preset"])
        return session

    def import_session(self, exported: dict[str, Any]) -> Session:
        """A new session (new id and tokens) continuing exactly from an export."""
        if self.store.count_sessions() >= self.settings.max_sessions:
            raise LimitReachedError(f"the server holds its maximum of {self.settings.max_sessions}")
        config = exported.get("config") if isinstance(exported, dict) else None
        if isinstance(config, dict) and isinstance(config.get("model"), dict):
            self.check_network_size(config["model"])
        session = Session.from_export(exported)
        self.check_dataset_size(len(session.dataset.x_train) + len(session.dataset.x_test))
        return self.add(session)

    def add(self, session: Session) -> Session:
        """Keep a session built elsewhere (an import, a branch): limits, settings, stored."""
        if self.store.count_sessions() >= self.settings.max_sessions:
            raise LimitReachedError(f"the server holds its maximum of {self.settings.max_sessions}")
        self._apply_settings(session)
        session.playing = False
        self.save(session)
        with self._lock:
            self._sessions[session.id] = session
        return session

    def _apply_settings(self, session: Session) -> None:
        session.max_trace_rows = self.settings.max_trace_rows
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

    def check_dataset_size(self, rows: int) -> None:
        if rows > self.settings.max_dataset_rows:
            raise ConfigError(
                "data.n_samples", f"at most {self.settings.max_dataset_rows} rows, got {rows}"
            )

    # ----- finding -------------------------------------------------------------------------

    def get(self, session_id: str) -> Session:
        """The session with that id, loaded from the store if it isn't in memory."""
        with self._lock:
            session = self._sessions.get(session_id)
        if session is not None:
            return session
        stored = self.store.load_session(session_id)
        if stored is None:
            raise SessionNotFoundError(f"no session {session_id!r} (it may have expired)")
        exported, token, watch_token = stored
        session = Session.from_export(
            exported, keep_identity=True, token=token, watch_token=watch_token
        )
        self._apply_settings(session)
        session.playing = False  # nothing plays it after a restart until a client says play
        with self._lock:
            # Another thread may have loaded it meanwhile: keep the first, one object per id.
            session = self._sessions.setdefault(session_id, session)
        return session

    def loaded(self) -> list[Session]:
        with self._lock:
            return list(self._sessions.values())

    def delete(self, session_id: str) -> None:
        self.get(session_id)  # SessionNotFoundError for an unknown id
        with self._lock:
            session = self._sessions.pop(session_id, None)
            self._saved_at.pop(session_id, None)
        if session is not None:
            session.playing = False
            session._changed("deleted", {})
        with self._save_lock:  # a save racing the delete must not write the session back
            if session is not None:
                self._deleted.add(session)
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
            version = session.version
        with self._save_lock:
            if session in self._deleted or self._saved_version.get(session, -1) > version:
                return  # deleted, or a newer export is already stored
            self.store.save_session(exported, session.token, session.watch_token)
            self._saved_version[session] = version
            self._saved_at[session.id] = time.monotonic()

    def save_if_due(self, session: Session) -> bool:
        """Store a playing session if ``persist_interval_seconds`` have passed since the last."""
        last = self._saved_at.get(session.id, 0.0)
        if time.monotonic() - last < self.settings.persist_interval_seconds:
            return False
        self.save(session)
        return True

    def expire_idle(self) -> list[str]:
        """Forget sessions unused for ``session_ttl_seconds`` (memory and store)."""
        cutoff = time.time() - self.settings.session_ttl_seconds
        with self._lock:
            stale = [
                sid for sid, s in self._sessions.items() if s.last_used < cutoff and not s.playing
            ]
            for sid in stale:
                self._sessions.pop(sid, None)
                self._saved_at.pop(sid, None)
        live = {s.id for s in self.loaded()}
        expired = self.store.expire_sessions(cutoff, keep=live)  # live ones stay stored
        if stale or expired:
            release_memory()
        return sorted(set(stale) | set(expired))

    # ----- uploaded datasets ---------------------------------------------------------------

    def uploaded_dataset(self, dataset_id: str) -> dict[str, Any]:
        table = self.store.load_dataset(dataset_id)
        if table is None:
            raise ConfigError("data.upload", f"no uploaded dataset {dataset_id!r}")
        return table

    def add_dataset(self, name: str, table: dict[str, Any]) -> str:
        if self.store.count_datasets() >= self.settings.max_datasets:
            raise LimitReachedError(
                f"the server holds its maximum of {self.settings.max_datasets} uploaded datasets"
            )
        dataset_id = new_token()[:22]
        self.store.save_dataset(dataset_id, name, table)
        return dataset_id
