"""The class's join link and QR code: the server's public address (PLAYGROUND_PUBLIC_URL,
which `make classroom` sets to the LAN address) or the one the teacher's page came from, and
a QR code made on the server (segno, SVG) that holds exactly that link."""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
import segno
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.settings import Settings

CreateOn = Any
OpenClient = Any
DATA_URL = "data:image/svg+xml;charset=utf-8,"


def open_class(client: TestClient, create_on: CreateOn) -> dict[str, Any]:
    session = create_on(client, {"preset": "circle"})
    response = client.post("/api/classes", json={"session_id": session.id}, headers=session.control)
    assert response.status_code == 201, response.text
    opened: dict[str, Any] = response.json()
    return opened


def svg_modules(data_url: str) -> tuple[int, set[tuple[int, int]]]:
    """An SVG QR code's side (its viewBox) and its dark modules (row, column), read back from
    the path segno draws: ``M x y`` / ``m dx dy`` moves, ``h n`` a run of n dark modules on
    the row at y − ½."""
    assert data_url.startswith(DATA_URL)
    svg = urllib.parse.unquote(data_url.removeprefix(DATA_URL))
    side = re.search(r"viewBox=['\"]0 0 (\d+) \1['\"]", svg)
    paths = re.findall(r"<path[^>]*\sd=['\"]([^'\"]+)['\"]", svg)
    assert side and len(paths) == 1, svg[:300]
    x = y = 0.0
    dark: set[tuple[int, int]] = set()
    for command, numbers in re.findall(r"([MmHh])([^MmHh]*)", paths[0]):
        values = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", numbers)]
        if command == "M":
            x, y = values
        elif command == "m":
            x, y = x + values[0], y + values[1]
        else:
            run = values[0] if command == "h" else values[0] - x
            dark |= {(int(y - 0.5), int(x) + i) for i in range(int(run))}
            x += run
    return int(side.group(1)), dark


def test_the_link_names_the_public_url_in_every_answer(
    open_client: OpenClient, create_on: CreateOn, data_dir: Path
) -> None:
    client = open_client(Settings(data_dir=data_dir, public_url="http://192.168.1.23:8000/"))
    opened = open_class(client, create_on)
    link = f"http://192.168.1.23:8000/#class={opened['code']}"
    assert opened["join_url"] == link
    teacher = {"Authorization": f"Bearer {opened['teacher_token']}"}
    current = client.get("/api/classes/current", headers=teacher).json()
    assert current["join_url"] == link and current["join_qr"] == opened["join_qr"]


def test_without_a_public_url_the_link_names_the_address_the_page_came_from(
    client: TestClient, create_on: CreateOn
) -> None:
    opened = open_class(client, create_on)
    assert opened["join_url"] == f"http://testserver/#class={opened['code']}"


def test_the_qr_code_holds_the_join_link(client: TestClient, create_on: CreateOn) -> None:
    opened = open_class(client, create_on)
    side, dark = svg_modules(opened["join_qr"])
    # No QR decoder is installed (zbar, OpenCV): segno's own matrix of the link must be the
    # SVG's modules, one for one, inside a quiet zone of 4.
    qr = segno.make(opened["join_url"], error="m")
    matrix = [list(row) for row in qr.matrix]
    expected = {(r + 4, c + 4) for r, row in enumerate(matrix) for c, v in enumerate(row) if v}
    assert side == len(matrix) + 8
    assert dark == expected
    other = segno.make(opened["join_url"].replace(opened["code"], "AAAAAA"), error="m")
    assert {
        (r + 4, c + 4) for r, row in enumerate(other.matrix) for c, v in enumerate(row) if v
    } != dark


@pytest.mark.parametrize("bad", ["192.168.1.23:8000", "ftp://host", "http://host/path", "http://"])
def test_a_public_url_that_is_not_an_address_is_refused_by_name(bad: str) -> None:
    with pytest.raises(ValidationError, match="public_url"):
        Settings(public_url=bad)
