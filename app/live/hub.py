"""One hub per live session: its sockets, their commands, its events and its latest frame.

The hub runs on the event loop and talks to the session only through its host
(``host.py``): it never holds the Session. Play is the player's (``player.py``): it hands
each frame and each piece of news back through the ``PlayListener`` methods below. Changes
made by anyone else (REST handlers on their threads) arrive through ``host.listen`` and are
moved onto the loop with ``call_soon_threadsafe``.

Frames: while playing, each slice brings the frame (built where the session lives, right
after its training); otherwise a change marks the hub dirty and its publisher asks the host
for a frame, at most at the highest frame cap among the clients. Then every client's sender
wakes and takes the newest frame at its own pace (``client.py``: latest wins).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from app.engine import ConfigError
from app.service.play import PLAY
from app.settings import Settings

from .client import Client
from .close_codes import CloseCode
from .commands import (
    WATCHER_COMMANDS,
    Command,
    CommandError,
    ErrorReply,
    PauseCommand,
    PlayCommand,
    ResetCommand,
    SetCommand,
    StepCommand,
    SubscribeCommand,
    parse_command,
)
from .frames import Frame, View, encode
from .host import SessionHost
from .pacing import FramePacer
from .player import Player
from .server_messages import PROTOCOL_VERSION, EventKind, Limits, Subscription
from .training import StopConditions

log = logging.getLogger("app.live")

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

    def __init__(
        self,
        host: SessionHost,
        settings: Settings,
        changes_schema: type[BaseModel],
        on_close: Callable[[Hub], None],
    ) -> None:
        self.host = host
        self.settings = settings
        self.changes_schema = changes_schema
        self._on_close = on_close
        self.loop = asyncio.get_running_loop()
        self.clients: set[Client] = set()
        self.latest: Frame | None = None
        self.stop_conditions = StopConditions()
        self.player = Player(host, self)
        self.deleted = False
        self.closed = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._dirty = asyncio.Event()
        self._pacer = FramePacer(settings.default_frame_rate)
        self._cap = settings.default_frame_rate
        self._announced_divergence: str | None = None
        self._orphan_timer: asyncio.TimerHandle | None = None
        self._publisher = self.loop.create_task(self._publish_loop())
        self._listening = self.spawn(host.listen(self._on_change_threadsafe))

    # ----- clients -----------------------------------------------------------------------

    def add(self, client: Client) -> None:
        self.clients.add(client)
        if self._orphan_timer is not None:
            self._orphan_timer.cancel()
            self._orphan_timer = None
        self._refresh_cap()
        self.request_frame()
        client.notify()  # the latest frame, at once, if it already shows this state

    def remove(self, client: Client) -> None:
        self.clients.discard(client)
        self._refresh_cap()
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

    def _refresh_cap(self) -> None:
        """After a client came, went or subscribed."""
        caps = [client.max_fps for client in self.clients]
        self._cap = max(caps) if caps else self.settings.default_frame_rate
        self._pacer.set_rate(self._cap)

    # ----- what the player and the clients ask -------------------------------------------

    def frame_cap(self) -> float:
        """Frames per second the hub makes at most: the highest cap among its clients."""
        return self._cap

    def frame_interval(self) -> float:
        return 1.0 / self._cap

    def frame_views(self, every_slice: bool) -> frozenset[View] | None:
        """Views to build a frame for after this slice; None when no client is due one
        (``every_slice``: phase play, where each phase gets its frame)."""
        if not self.clients:
            return None
        now = self.loop.time()
        due = every_slice or self._dirty.is_set()
        if not due and not any(client.due(now) for client in self.clients):
            return None
        self._dirty.clear()
        return frozenset(client.view for client in self.clients)

    def frame_ready(self, frame: Frame, asked_at: float | None = None) -> None:
        """A frame from the host: the newest now (unless a newer one, or one showing the same,
        came first from the other source: play's slices or the publisher); wake the senders.

        ``asked_at``: when play asked for it (loop time), which is the frame's slot in the
        clients' pacing; not when it came (a class's slices run together, and the last
        student's frame comes as much later as the run took: pacing by that would make the
        next tick's frame look early and skip it)."""
        latest = self.latest
        if latest is not None and (frame.seq < latest.seq or frame.key == latest.key):
            return
        frame.published_at = self.loop.time() if asked_at is None else asked_at
        self._pacer.record(frame.published_at)
        self.latest = frame
        if frame.diverged is None:
            self._announced_divergence = None
        elif frame.diverged != self._announced_divergence:
            self.diverged(frame.diverged)
        for client in self.clients:
            client.notify()

    def diverged(self, message: str) -> None:
        """Send ``diverged`` once per divergence, and pause play."""
        if message == self._announced_divergence:
            return
        self._announced_divergence = message
        self.send_event("diverged", message)
        if self.player.playing:
            self.spawn(self.player.stop("diverged"))

    def stop_met(self, why: str) -> None:
        self.stop_conditions = StopConditions()  # met: cleared, so play can go on after it
        self.send_event("stopped", f"stop condition met: {why}")

    async def play_ended(self, reason: str, message: str, step: int) -> None:
        """The play task's last act: tell the clients, store the session, drop if idle.

        Called right after the host stopped playing, with no await in between, so ``paused``
        reaches every client before any frame that shows the session paused.
        """
        self.send_event(
            "paused",
            PAUSE_MESSAGES.get(reason) or message or reason,
            {"reason": reason, "step": step},
        )
        self.request_frame()
        if not self.deleted:
            await self.host.save()
        if not self.clients:
            self.close()

    # ----- messages ----------------------------------------------------------------------

    def send_event(
        self,
        event: EventKind,
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
        client.send_message(encode(ErrorReply.of(error).model_dump()))

    # ----- frames when not playing -------------------------------------------------------

    def request_frame(self) -> None:
        self._dirty.set()

    async def _publish_loop(self) -> None:
        while True:
            await self._dirty.wait()
            if not self.clients:
                self._dirty.clear()
                continue
            if self.player.playing:
                # Play brings the frames: its next slice sees the hub dirty. Only if no slice
                # came within a frame interval (a slow rate) is the frame made here.
                await asyncio.sleep(self.frame_interval())
                if not self._dirty.is_set():
                    continue
            delay = self._pacer.delay(self.loop.time())
            if delay > 0:
                await asyncio.sleep(delay)
            self._dirty.clear()
            try:
                await self.publish()
            except Exception:
                log.exception("building a frame of session %s failed", self.host.session_id[:8])
                await asyncio.sleep(1.0)

    async def publish(self) -> None:
        """Ask the host for a frame now (unless the latest shows this very state)."""
        if not self.clients:
            return
        views = frozenset(client.view for client in self.clients)
        unless = None if self.latest is None else self.latest.key
        frame = await self.host.frame(views, self.player.describe(), unless)
        if frame is not None:
            self.frame_ready(frame)

    # ----- session changes ---------------------------------------------------------------

    def _on_change_threadsafe(self, kind: str, detail: dict[str, Any]) -> None:
        if kind == "step" and detail.get("by") == PLAY:
            return  # our own play: its slice result brings the frame
        with contextlib.suppress(RuntimeError):  # a closed loop: the server is stopping
            self.loop.call_soon_threadsafe(self._on_change, kind, detail)

    def _on_change(self, kind: str, detail: dict[str, Any]) -> None:
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
            self.spawn(self._after_reset())
        elif kind == "deleted":
            self.deleted = True
            self.spawn(self._after_delete())

    async def _after_reset(self) -> None:
        await self.player.stop("reset")
        state = await self.host.state()  # (not hello: the dataset did not change)
        self.send_event("reset", "the session was reset: new weights, counters at 0", state=state)

    async def _after_delete(self) -> None:
        await self.player.stop("deleted")
        self.send_event("deleted", "the session was deleted")
        for client in list(self.clients):
            client.close(CloseCode.NOT_FOUND, "the session was deleted")

    # ----- commands ----------------------------------------------------------------------

    async def handle(self, client: Client, text: str | bytes) -> None:
        """One message from a client: act on it, or answer with an ``error``."""
        try:
            if not client.commands.take(self.loop.time()):
                raise CommandError(
                    f"too many commands: at most {self.settings.max_ws_commands_per_second:g} "
                    "per second; this one was ignored"
                )
            command = parse_command(text, self.settings, self.changes_schema)
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
            log.exception("a command on session %s failed", self.host.session_id[:8])
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
                await self.host.set(command.changed(), client.label)
            elif isinstance(command, ResetCommand):
                await self.host.reset(command.seed, client.label)
            elif isinstance(command, SubscribeCommand):
                await self._subscribe(client, command)
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
        outcome = await self.host.step(
            command.unit, command.count, self.settings.max_step_seconds, client.label
        )
        if outcome.diverged:
            self.diverged(outcome.diverged)
        elif outcome.stopped == "time budget":
            self.send_event(
                "limit",
                f"step stopped after {outcome.done} of {outcome.requested} {command.unit}s: the "
                f"{self.settings.max_step_seconds:g} s budget of one step command",
                {"done": outcome.done, "requested": outcome.requested},
                to=lambda other: other is client,
            )

    async def _subscribe(self, client: Client, command: SubscribeCommand) -> None:
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
            if resolution and not await self.host.on_plane():
                raise CommandError(
                    "boundary_resolution: the decision boundary is drawn over a plane "
                    "(x1, x2); this network's inputs are not a plane's points or features "
                    "of them",
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
        self._refresh_cap()
        self.request_frame()
        client.notify()

    # ----- hello -------------------------------------------------------------------------

    async def hello(self, client: Client) -> str:
        """The first message: protocol version, role, the whole state and the dataset."""
        s = self.settings
        state, dataset = await self.host.hello()
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
                "subscription": Subscription(
                    max_fps=client.max_fps, fields=None, boundary_resolution=0
                ).model_dump(),
                "limits": Limits(
                    max_fps=s.max_frame_rate,
                    max_rate=s.max_steps_per_second,
                    max_step_count=s.max_units_per_step,
                    max_boundary_resolution=s.max_boundary_resolution,
                    max_message_bytes=s.max_ws_message_bytes,
                    max_commands_per_second=s.max_ws_commands_per_second,
                ).model_dump(),
            }
        )

    # ----- plumbing ----------------------------------------------------------------------

    def spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        """Run a coroutine in the background, keeping a reference until it ends."""
        task = self.loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def shutdown(self) -> None:
        """Server shutdown: pause (which stores), close every socket, forget the session."""
        await self.player.stop("shutdown")
        for client in list(self.clients):
            client.close(CloseCode.SERVICE_RESTART, "the server is restarting")
        self.close()

    async def drain(self, timeout: float) -> None:
        """Wait (at most ``timeout``) for the background work still under way."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    def close(self) -> None:
        """Forget the session: no task, no listener (only when no client and not playing)."""
        if self.closed:
            return
        self.closed = True
        if self._orphan_timer is not None:
            self._orphan_timer.cancel()
        self._publisher.cancel()
        self.spawn(self._stop_listening())
        self._on_close(self)

    async def _stop_listening(self) -> None:
        await self._listening  # (added before it is removed)
        await self.host.unlisten(self._on_change_threadsafe)
