"""The shipped package: a wheel with the page in it, installed and started outside the
checkout exactly as the Dockerfile does (no Docker engine runs here, so we mirror it)."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()

pytestmark = pytest.mark.slow


def _stages() -> list[str]:
    return re.split(r"^FROM ", DOCKERFILE, flags=re.MULTILINE)[1:]


def test_dockerfile_runs_the_wheel_as_a_non_root_user_with_a_health_check() -> None:
    build, run = _stages()
    assert build.startswith("python:3.11-slim AS build")
    assert run.startswith("python:3.11-slim")
    assert "pip wheel" in build and "--no-deps" in build
    assert "pip install --no-cache-dir /wheels/*.whl" in run
    assert re.search(r"^USER playground$", run, re.MULTILINE)
    assert 'VOLUME ["/data"]' in run
    assert "/api/health" in run.split("HEALTHCHECK", 1)[1]
    # Nothing that builds or compiles in the image that runs.
    for tool in ("gcc", "build-essential", "apt-get install", "COPY app", "COPY static"):
        assert tool not in run, f"the run stage should not contain {tool!r}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, bytes, dict[str, str]]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read(), dict(response.headers)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip wheel --no-deps` as the Dockerfile's build stage runs it."""
    out = tmp_path_factory.mktemp("wheels")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--wheel-dir", str(out), "."],
        cwd=ROOT,
        check=True,
        timeout=300,
    )
    (found,) = out.glob("backprop_playground-*.whl")
    return found


def test_wheel_carries_the_package_the_page_and_its_templates(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "app/main.py" in names and "app/engine/model.py" in names
    assert "app/templates/index.html" in names
    assert any(n.startswith("app/static/js/") and n.endswith(".js") for n in names)
    assert any(n.startswith("app/static/css/") for n in names)
    assert not any(n.startswith("tests/") for n in names)


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv outside the checkout with the wheel installed (the run stage's pip)."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run(
        [str(venv / "bin/pip"), "install", "-q", "--no-cache-dir", str(wheel)],
        check=True,
        timeout=600,
    )
    return venv


@pytest.fixture(scope="module")
def server(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The image's CMD, `backprop-playground`, with the image's environment."""
    port = _free_port()
    data = tmp_path_factory.mktemp("data")
    env = {
        "PATH": f"{installed / 'bin'}:/usr/bin:/bin",
        "PLAYGROUND_HOST": "127.0.0.1",
        "PLAYGROUND_PORT": str(port),
        "PLAYGROUND_DATA_DIR": str(data),
    }
    outside = tmp_path_factory.mktemp("cwd")  # not the checkout: the wheel must suffice
    process = subprocess.Popen(
        ["backprop-playground"],
        env=env,
        cwd=outside,
        executable=installed / "bin/backprop-playground",
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(base + "/api/health")
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.3)
        yield base
    finally:
        process.kill()
        process.wait(timeout=10)


def test_installed_wheel_serves_the_page_static_files_and_plotly(server: str) -> None:
    status, body, _ = _get(server + "/")
    assert status == 200 and b"<html" in body.lower()
    scripts = re.findall(rb'src="(/static/[^"]+\.js)"', body)
    assert scripts, "the page should load its own module from /static"
    status, js, _ = _get(server + scripts[0].decode())
    assert status == 200 and len(js) > 100
    status, plotly, _ = _get(server + "/vendor/plotly.min.js")
    assert status == 200 and b"plotly" in plotly[:5000].lower() and len(plotly) > 1_000_000


def test_installed_wheel_trains_a_preset_over_rest(server: str) -> None:
    request = urllib.request.Request(
        server + "/api/sessions",
        data=json.dumps({"preset": "lesson-000"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        created = json.loads(response.read())
    assert created["state"]["step"] == 0 and created["token"]


def test_health_check_command_of_the_image_succeeds(server: str, installed: Path) -> None:
    run = _stages()[1]
    found = re.search(r"CMD (\[.*\])", run.split("HEALTHCHECK", 1)[1])
    assert found is not None
    command = json.loads(found.group(1))
    port = server.rsplit(":", 1)[1]
    command = [c.replace("8000", port) for c in command]
    command[0] = str(installed / "bin" / command[0])
    result = subprocess.run(command, timeout=30, capture_output=True)
    assert result.returncode == 0, result.stderr.decode() + shlex.join(command)


def test_console_command_and_module_show_help(installed: Path) -> None:
    for command in (
        [str(installed / "bin/backprop-playground"), "--help"],
        [str(installed / "bin/python"), "-m", "app", "--help"],
    ):
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd="/")
        assert result.returncode == 0
        for option in ("--host", "--port", "--data-dir", "--log-level", "--open"):
            assert option in result.stdout
    assert os.path.exists(installed / "bin/backprop-playground")
