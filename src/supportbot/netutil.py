"""Local ports and HTTP readiness: pick a free port, and poll a server until an endpoint answers.

Standard library only, so it runs from ``.venv``, ``.venv-vllm`` or any Python 3.11. The callers
(``supportbot.serve.process`` and ``supportbot.vllm_server``) turn the two failures below into their own
error types and messages.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping

__all__ = ["ExitedBeforeReady", "NotReadyInTime", "free_port", "poll_http_ready", "port_in_use"]

REQUEST_TIMEOUT_S = 5.0  # per probe


class ExitedBeforeReady(RuntimeError):
    """The watched process exited before the endpoint was ready."""

    def __init__(self, returncode: int | None) -> None:
        super().__init__(f"process exited with code {returncode} before it was ready")
        self.returncode = returncode


class NotReadyInTime(RuntimeError):
    """The endpoint was not ready within the timeout."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_in_use(host: str, port: int) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    with socket.socket() as s:
        return s.connect_ex((host, port)) == 0


def _get(url: str, headers: Mapping[str, str], timeout: float) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers=dict(headers))
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read() if exc.fp else b""


def poll_http_ready(
    url: str,
    *,
    timeout: float,
    interval: float,
    api_key: str | None = None,
    ready_model: str | None = None,
    proc: subprocess.Popen | None = None,
) -> float:
    """Poll ``GET url`` every ``interval`` s until it answers 200 (and, with ``ready_model``, its OpenAI-style
    ``data`` list has that id). Returns seconds waited.

    Raises ``ExitedBeforeReady`` when ``proc`` exits first, ``NotReadyInTime`` after ``timeout`` seconds.
    """
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    start = time.monotonic()
    while True:
        if proc is not None and proc.poll() is not None:
            raise ExitedBeforeReady(proc.returncode)
        try:
            status, body = _get(url, headers, timeout=REQUEST_TIMEOUT_S)
            if status == 200:
                if ready_model is None:
                    return time.monotonic() - start
                ids = [m.get("id") for m in json.loads(body).get("data", [])]
                if ready_model in ids:
                    return time.monotonic() - start
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError, ValueError):
            pass
        if time.monotonic() - start > timeout:
            raise NotReadyInTime(f"{url} not ready after {timeout:.0f} s")
        time.sleep(interval)
