"""While the server cannot be reached, the page says so and its socket verbs are disabled;
nothing a click asks for is silently dropped. When the connection is back, so are they."""

from __future__ import annotations

from playwright.sync_api import WebSocketRoute

from .conftest import Playground

VERBS = ["#play-button", "#step-button", "#reset-button"]


def test_the_controls_say_offline_and_come_back(playground: Playground) -> None:
    page = playground.page
    blocked = {"on": True}

    def route(socket: WebSocketRoute) -> None:
        if blocked["on"]:
            socket.close()  # as a server that is down: every reconnect fails
        else:
            socket.connect_to_server()

    page.route_web_socket("**/ws/sessions/**", route)
    step = playground.state()["step"]
    page.evaluate("window.playgroundDebug.dropConnection()")
    playground.wait_for("state.connection !== 'live'")
    for selector in VERBS:
        assert page.is_disabled(selector), selector
        assert "cannot be reached" in (page.get_attribute(selector, "title") or "")
    assert "reconnecting" in page.inner_text("#connection-status")
    # The keyboard's step is refused out loud, not dropped.
    page.keyboard.press("s")
    page.wait_for_function(
        "() => document.getElementById('notice').innerText.includes('cannot be reached')"
    )
    playground.screenshot("offline.png")
    assert playground.server_session()["step"] == step
    blocked["on"] = False
    playground.wait_for("state.connection === 'live'", timeout=30_000)
    for selector in VERBS:
        assert page.is_enabled(selector), selector
    playground.step()
    assert playground.server_session()["step"] == step + 1
