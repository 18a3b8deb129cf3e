"""`volley serve` in a process of its own with no settings at all (the embedded mode the
README shows: SQLite, local files, stages in a thread), for tests that drive it over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
VOLLEY = str(ROOT / ".venv" / "bin" / "volley")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def embedded_env(tmp_path: Path) -> dict[str, str]:
    """This environment without any VOLLEY_ setting, data and work under `tmp_path`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOLLEY_") and k != "DJANGO_SETTINGS_MODULE"}
    env.update(VOLLEY_DATA_DIR=str(tmp_path / "data"), VOLLEY_WORK_DIR=str(tmp_path / "work"))
    return env


def get(url: str, token: str | None = None, headers: dict | None = None):
    auth = {"Authorization": f"Token {token}"} if token else {}
    return urllib.request.urlopen(urllib.request.Request(url, headers={**(headers or {}), **auth}), timeout=30)


@dataclass
class EmbeddedServer:
    base: str  # http://127.0.0.1:PORT
    port: int
    env: dict[str, str]
    log: Path  # what the server printed (its request log too)
    process: subprocess.Popen | None = None

    @property
    def data_dir(self) -> Path:
        return Path(self.env["VOLLEY_DATA_DIR"])

    def token(self, username: str) -> str:
        """An API token of `username` (made if new), from `volley token create`."""
        done = subprocess.run([VOLLEY, "token", "create", username], env=self.env, check=True,
                              capture_output=True, text=True, cwd=ROOT)
        return done.stdout.strip()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def embedded_server(tmp_path: Path, *args: str, host: str = "127.0.0.1", env: dict | None = None,
                    seconds: float = 60, port: int | None = None) -> Iterator[EmbeddedServer]:
    """`volley serve --host HOST --port PORT (free by default) ARGS...` until /healthz
    answers; stopped after. A log file, not a pipe: a pipe nobody reads fills with the
    request log and blocks it."""
    port = port or free_port()
    env = env or embedded_env(tmp_path)
    log = tmp_path / f"serve-{port}.log"
    with log.open("ab") as out:  # a restart on the same port goes on in the same log
        server = subprocess.Popen([VOLLEY, "serve", "--host", host, "--port", str(port), *args], env=env,
                                  cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    running = EmbeddedServer(f"http://127.0.0.1:{port}", port, env, log, server)
    try:
        _wait_until_up(server, running, seconds)
        yield running
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)


def _wait_until_up(server: subprocess.Popen, running: EmbeddedServer, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            get(f"{running.base}/healthz").close()
            return
        except (urllib.error.URLError, ConnectionError):
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"volley serve did not come up:\n{running.output()}") from None
            time.sleep(0.3)
