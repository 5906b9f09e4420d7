"""What every answer of the support service must look like (shared by the hardening and fuzzing tests)."""

from __future__ import annotations

import json
import time

import httpx

DELIBERATE_5XX = {503}  # queue full: the only 5xx the service means to send to a well-formed request


def error_of(status: int, content: bytes) -> dict:
    """The ``error`` object of an error answer; fails unless the body is ``{"error": {"message": str, ...}}``."""
    try:
        body = json.loads(content)
    except ValueError:
        raise AssertionError(f"{status} with a body that is not JSON: {content[:200]!r}") from None
    assert isinstance(body, dict) and set(body) == {"error"}, f"{status} not in the error shape: {body}"
    err = body["error"]
    assert isinstance(err, dict) and isinstance(err.get("message"), str) and err["message"], body
    assert {"type", "param", "code"} <= set(err), body
    return err


def check_answer(status: int, content: bytes, content_type: str, what: str = "") -> None:
    """No 5xx but the deliberate 503; every error in the documented shape; 200 bodies well formed."""
    assert status < 500 or status in DELIBERATE_5XX, f"{what}: {status} {content[:300]!r}"
    if status >= 400:
        error_of(status, content)
    elif status == 200 and content_type.startswith("application/json"):
        json.loads(content)


def wait_idle(url: str, timeout: float = 30.0) -> dict:
    """``/healthz`` of a healthy server once nothing is queued any more (fails after ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while True:
        health = httpx.get(url + "/healthz", timeout=10).json()
        queued = sum(m.get("queued", 0) for m in health.get("models", {}).values()) + health.get("in_flight", 0)
        if health.get("status") == "ok" and queued == 0:
            return health
        assert time.monotonic() < deadline, f"still busy after {timeout} s: {health}"
        time.sleep(0.2)
