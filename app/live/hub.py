"""One hub per live session: its sockets, its play task, its stop conditions, its frames.

All of a hub's state lives on the event loop. Work that touches the session (stepping,
building a frame, storing) runs on the registry's worker threads; changes made by anyone
else (REST handlers run in a threadpool) arrive through ``Session.add_listener`` and are
handed to the loop with ``call_soon_threadsafe``.

Frames: a change marks the hub dirty; its publisher builds a frame at most at the highest
frame cap among its clients (and, for a big network, no more often than its building cost
allows), then wakes every client's sender. See ``client.py`` for "latest wins".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from app.engine import ConfigError
from app.service.manager import SessionManager
from app.service.session import Session
from app.settings import Settings

from .client import Client
from .commands import (
    WATCHER_COMMANDS,
    Command,
    CommandError,
    PauseCommand,
    PlayCommand,
    ResetCommand,
    SetCommand,
    StepCommand,
    StopConditions,
    SubscribeCommand,
    parse_command,
)
from .frames import (
    PROTOCOL_VERSION,
    Frame,
    FrameCaches,
    View,
    build_frame,
    encode,
    frame_key,
)
from .pacing import FramePacer
from .player import Player, play_thread

if TYPE_CHECKING:
    from .registry import LiveRegistry

log = logging.getLogger("app.live")
T = TypeVar("T")

BUILD_SHARE = 0.25  # building and encoding frames may take at most this share of the time
PAUSE_MESSAGES = {
    "pause": "paused by a control client",
    "step": "paused to run a step",
    "reset": "paused: the session was reset",
    "diverged": "paused: the training diverged",
    "stopped": "paused: a stop condition was met",
    "deleted": "stopped: the session was deleted",
    "orphaned": "paused: no client has watched for a while",
    "shutdown": "paused: the server is stopping",
}


class Hub:
    """The live side of one session."""

    def __init__(self, registry: LiveRegistry, session: Session) -> None:
        self.registry = registry
        self.session = session
        self.settings: Settings = registry.settings
        self.manager: SessionManager = registry.manager
        self.loop = asyncio.get_running_loop()
        self.clients: set[Client] = set()
        self.latest: Frame | None = None
        self.stop_conditions = StopConditions()
        self.player = Player(self)
        self.deleted = threading.Event()
        self.closed = False
        self._seq = 0
        self._caches = FrameCaches()
        self._dirty = asyncio.Event()
        self._build_lock = asyncio.Lock()
        self.building: asyncio.Future[None] | None = None  # a frame build under way
        self.frame_wanted = threading.Event()  # tells the running chunk to end its slice
        self._wake_pending = False  # a change notice is on its way to the loop
        self._pacer = FramePacer(self.settings.default_frame_rate)
        self._build_cost = 0.0
        self._cap = self.settings.default_frame_rate
        self._announced_divergence: str | None = None
        self._orphan_timer: asyncio.TimerHandle | None = None
        self._publisher = self.loop.create_task(self._publish_loop())
        # Session.add_listener takes the session's lock, which a long REST step may hold:
        # on a worker thread, never on the loop.
        self._listening = registry.spawn(
            registry.run_in_thread(session.add_listener, self._on_change_threadsafe)
        )

    # ----- clients -----------------------------------------------------------------------

    def add(self, client: Client) -> None:
        self.clients.add(client)
        if self._orphan_timer is not None:
            self._orphan_timer.cancel()
            self._orphan_timer = None
        self._refresh_pace()
        self.request_frame()
        client.notify()  # the latest frame, at once, if it already shows this state

    def remove(self, client: Client) -> None:
        self.clients.discard(client)
        self._refresh_pace()
        if self.clients:
            return
        if self.player.playing:
            if self._orphan_timer is not None:
                self._orphan_timer.cancel()
            self._orphan_timer = self.loop.call_later(
                self.settings.orphan_play_seconds, lambda: self.spawn(self._pause_orphan())
            )
        else:
            self.close()

    async def _pause_orphan(self) -> None:
        self._orphan_timer = None
        if not self.clients:
            await self.player.stop("orphaned")

    def frame_cap(self) -> float:
        """Frames per second the hub builds at most: the highest cap among its clients."""
        return self._cap

    def _refresh_pace(self) -> None:
        """After a client came, went or subscribed, or the cost of a frame changed."""
        caps = [client.max_fps for client in self.clients]
        self._cap = max(caps) if caps else self.settings.default_frame_rate
        self._pacer.set_rate(min(self._cap, self._affordable_rate()))

    def _affordable_rate(self) -> float:
        return 1.0 / (self._build_cost / BUILD_SHARE) if self._build_cost > 0 else float("inf")

    # ----- messages ----------------------------------------------------------------------

    def send_event(
        self,
        event: str,
        message: str,
        detail: dict[str, Any] | None = None,
        to: Callable[[Client], bool] | None = None,
        **extra: Any,
    ) -> None:
        """Encode one event once and queue it for every client (or those ``to`` accepts)."""
        text = encode(
            {"type": "event", "event": event, "message": message, "detail": detail or {}, **extra}
        )
        for client in self.clients:
            if to is None or to(client):
                client.send_message(text)

    def send_error(self, client: Client, error: CommandError) -> None:
        client.send_message(
            encode(
                {
                    "type": "error",
                    "message": error.message,
                    "field": error.field,
                    "command": error.command,
                    "id": error.message_id,
                }
            )
        )

    # ----- frames ------------------------------------------------------------------------

    def request_frame(self) -> None:
        self._dirty.set()

    def frame_key(self) -> tuple[Any, ...]:
        views = frozenset(client.view for client in self.clients)
        return frame_key(self.session.version, self.session.playing, views, self.player.describe())

    async def _publish_loop(self) -> None:
        while True:
            await self._dirty.wait()
            if not self.clients:
                self._dirty.clear()
                continue
            delay = self._pacer.delay(self.loop.time())
            if delay > 0:
                await asyncio.sleep(delay)
            self._dirty.clear()
            try:
                await self.publish()
            except Exception:
                log.exception("building a frame of session %s failed", self.session.id[:8])
                await asyncio.sleep(1.0)

    async def publish(self) -> None:
        """Build a frame now (unless the latest shows this very state) and wake the senders."""
        async with self._build_lock:
            if not self.clients:
                return
            key = self.frame_key()
            if self.latest is not None and self.latest.key == key:
                return
            views = key[2]
            self._seq += 1
            self._pacer.record(self.loop.time())
            # While playing, build between two chunks: the play task waits for this build
            # rather than racing it for the session's lock.
            self.building = self.loop.create_future()
            self.frame_wanted.set()
            try:
                await self.player.between_chunks()
                frame, cost = await self.run_in_thread(self._build, self._seq, views)
            finally:
                self.frame_wanted.clear()
                self.building.set_result(None)
                self.building = None
            self._build_cost = 0.8 * self._build_cost + 0.2 * cost
            self._refresh_pace()
            frame.published_at = self.loop.time()
            self.latest = frame
            if frame.diverged is None:
                self._announced_divergence = None
            elif frame.diverged != self._announced_divergence:
                self.announce_divergence(frame.diverged)
            for client in self.clients:
                client.notify()

    def _build(self, seq: int, views: frozenset[View]) -> tuple[Frame, float]:
        """A frame encoded for every view known now (off the loop), and the CPU it took."""
        started = time.thread_time()
        frame = build_frame(self.session, seq, views, self._caches, self.player.describe())
        for view in views:
            frame.text(view)
        return frame, time.thread_time() - started

    # ----- session changes ---------------------------------------------------------------

    def _on_change_threadsafe(self, session: Session, kind: str, detail: dict[str, Any]) -> None:
        if kind == "deleted":
            self.deleted.set()  # before the store row goes: the play task must not save again
        if kind == "step":
            if play_thread.session is session:
                return  # our own play task: it asks for a frame after each chunk
            if self._wake_pending:
                return  # steps only make the hub dirty: one notice on its way is enough
            self._wake_pending = True
        with contextlib.suppress(RuntimeError):  # a closed loop: the server is stopping
            self.loop.call_soon_threadsafe(self._on_change, kind, detail)

    def _on_change(self, kind: str, detail: dict[str, Any]) -> None:
        if kind == "step":
            self._wake_pending = False
        if self.closed:
            return
        self.request_frame()
        by = detail.get("by")
        source = "another client" if isinstance(by, str) and by.startswith("ws:") else "REST"

        def others(client: Client) -> bool:
            return client.label != by

        if kind == "set":
            changes = detail.get("changes", {})
            names = ", ".join(sorted(str(name) for name in changes))
            self.send_event(
                "changed",
                f"{source} changed {names}",
                {"kind": "set", "changes": changes, "source": source},
                to=others,
            )
        elif kind == "reset":
            self.send_event(
                "changed",
                f"{source} reset the session",
                {"kind": "reset", "source": source},
                to=others,
            )
            self.spawn(self._after_reset(by))
        elif kind == "deleted":
            self.spawn(self._after_delete())

    async def _after_reset(self, by: Any) -> None:
        await self.player.stop("reset")
        state = await self.run_in_thread(self.session.state)
        self.send_event("reset", "the session was reset: new weights, counters at 0", state=state)

    async def _after_delete(self) -> None:
        await self.player.stop("deleted")
        self.send_event("deleted", "the session was deleted")
        for client in list(self.clients):
            client.close(4404, "the session was deleted")

    def announce_divergence(self, message: str) -> None:
        """Send ``diverged`` once per divergence, and pause play."""
        if message == self._announced_divergence:
            return
        self._announced_divergence = message
        self.send_event("diverged", message)
        if self.player.playing:
            self.spawn(self.player.stop("diverged"))

    def stop_condition_met(self, why: str) -> None:
        self.stop_conditions = StopConditions()  # met: cleared, so play can go on after it
        self.send_event("stopped", f"stop condition met: {why}")

    async def play_ended(self, reason: str, message: str) -> None:
        """The play task's last act: tell the clients, store the session, drop if idle.

        Called right after ``session.playing`` became False, with no await in between, so
        ``paused`` reaches every client before any frame that shows the session paused.
        """
        self.send_event(
            "paused",
            PAUSE_MESSAGES.get(reason) or message or reason,
            {"reason": reason, "step": self.session.model.step},
        )
        self.request_frame()
        if not self.deleted.is_set():
            await self.run_in_thread(self.manager.save, self.session)
        if not self.clients:
            self.close()

    # ----- commands ----------------------------------------------------------------------

    async def handle(self, client: Client, text: str | bytes) -> None:
        """One message from a client: act on it, or answer with an ``error``."""
        try:
            if not client.commands.take(self.loop.time()):
                raise CommandError(
                    f"too many commands: at most {self.settings.max_ws_commands_per_second:g} "
                    "per second; this one was ignored"
                )
            command = parse_command(text, self.settings)
            if client.role == "watch" and command.type not in WATCHER_COMMANDS:
                raise CommandError(
                    "watch links are read-only: a watcher may only send subscribe",
                    command=command.type,
                    message_id=command.id,
                )
            await self.execute(client, command)
        except CommandError as error:
            self.send_error(client, error)
        except Exception:  # a bug: say so, keep the socket
            log.exception("a command on session %s failed", self.session.id[:8])
            self.send_error(client, CommandError("the server failed to run this command"))

    async def execute(self, client: Client, command: Command) -> None:
        try:
            if isinstance(command, PlayCommand):
                self.player.start(command.unit, command.rate)
                pace = "as fast as possible" if command.rate is None else f"{command.rate:g}/s"
                self.send_event(
                    "playing",
                    f"playing by {command.unit}, {pace}",
                    {"unit": command.unit, "rate": command.rate},
                )
                self.request_frame()
            elif isinstance(command, PauseCommand):
                await self.player.stop("pause")
            elif isinstance(command, StepCommand):
                await self._step(client, command)
            elif isinstance(command, SetCommand):
                await self.run_in_thread(
                    self.session.set_hyperparameters, command.changed(), client.label
                )
                await self.run_in_thread(self.manager.save, self.session)
            elif isinstance(command, ResetCommand):
                await self.run_in_thread(self.session.reset, command.seed, client.label)
                await self.run_in_thread(self.manager.save, self.session)
            elif isinstance(command, SubscribeCommand):
                self._subscribe(client, command)
        except ConfigError as error:
            field = error.field
            if isinstance(command, SetCommand):  # named as in the PATCH body
                is_layer = field == "layer" or field.startswith("layers")
                field = "changes." + ("activations" if is_layer else field)
            raise CommandError(
                f"{field}: {error.message}", field, command.type, command.id
            ) from None

    async def _step(self, client: Client, command: StepCommand) -> None:
        await self.player.stop("step")
        outcome = await self.run_in_thread(
            self.session.step, command.unit, command.count, self.settings.max_step_seconds
        )
        await self.run_in_thread(self.manager.save, self.session)
        if outcome.diverged:
            self.announce_divergence(outcome.diverged)
        elif outcome.stopped == "time budget":
            client.send_message(
                encode(
                    {
                        "type": "event",
                        "event": "limit",
                        "message": f"step stopped after {outcome.done} of {outcome.requested} "
                        f"{command.unit}s: the {self.settings.max_step_seconds:g} s budget "
                        "of one step command",
                        "detail": {"done": outcome.done, "requested": outcome.requested},
                    }
                )
            )

    def _subscribe(self, client: Client, command: SubscribeCommand) -> None:
        given = command.model_fields_set
        if "stop" in given and client.role == "watch":
            raise CommandError(
                "watch links are read-only: a watcher cannot set stop conditions",
                field="stop",
                command="subscribe",
                message_id=command.id,
            )
        resolution = client.view.boundary_resolution
        if "boundary_resolution" in given:
            resolution = command.boundary_resolution or 0
            if resolution and self.session.model.config.input_size != 2:
                raise CommandError(
                    "boundary_resolution: the decision boundary needs 2-D inputs; "
                    f"this network has {self.session.model.config.input_size}",
                    "boundary_resolution",
                    "subscribe",
                    command.id,
                )
        fields = client.view.fields
        if "fields" in given:
            fields = None if command.fields is None else frozenset(command.fields)
        if "stop" in given:
            self.stop_conditions = command.stop or StopConditions()
        client.subscribe(command.max_fps, View(fields, resolution))
        self._refresh_pace()
        self.request_frame()
        client.notify()

    # ----- hello -------------------------------------------------------------------------

    def hello(self, client: Client) -> str:
        """The first message: protocol version, role, the whole state and the dataset."""
        s = self.settings
        with self.session.lock:
            state = self.session.state()
            dataset = self.session.dataset_summary()
        return encode(
            {
                "type": "hello",
                "protocol": PROTOCOL_VERSION,
                "role": client.role,
                "client": client.label,
                "state": state,
                "dataset": dataset,
                "play": self.player.describe(),
                "stop": self.stop_conditions.model_dump(),
                "subscription": {
                    "max_fps": client.max_fps,
                    "fields": None,
                    "boundary_resolution": 0,
                },
                "limits": {
                    "max_fps": s.max_frame_rate,
                    "max_rate": s.max_steps_per_second,
                    "max_step_count": s.max_units_per_step,
                    "max_boundary_resolution": s.max_boundary_resolution,
                    "max_message_bytes": s.max_ws_message_bytes,
                    "max_commands_per_second": s.max_ws_commands_per_second,
                },
            }
        )

    # ----- plumbing ----------------------------------------------------------------------

    async def run_in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.registry.run_in_thread(fn, *args)

    def spawn(self, coroutine: Any) -> None:
        """Run a coroutine in the background, keeping a reference until it ends."""
        self.registry.spawn(coroutine)

    def close(self) -> None:
        """Forget the session: no task, no listener (only when no client and not playing)."""
        if self.closed:
            return
        self.closed = True
        if self._orphan_timer is not None:
            self._orphan_timer.cancel()
        self._publisher.cancel()
        self.registry.spawn(self._stop_listening())
        self.registry.discard(self)

    async def _stop_listening(self) -> None:
        await self._listening  # (added before it is removed)
        await self.run_in_thread(self.session.remove_listener, self._on_change_threadsafe)
