"""A fault-injecting OpenAI-style chat endpoint on 127.0.0.1 for the judge tests (a test double).

It plays 429s, 500s, timeouts, garbage bodies and garbage verdicts on demand, which a real model
cannot be made to produce; otherwise it answers like a judge that prefers the answer containing GOOD.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _pick(user: str) -> str:
    """The fake judge prefers the answer containing GOOD (so verdicts depend on the order)."""
    a = re.search(r"<<<ANSWER A.*?\n(.*?)\nEND OF ANSWER A", user, re.S)
    return "A" if a and "GOOD" in a.group(1) else "B"


class FakeJudge:
    """``script``: faults to play, one per request, before answering normally:
    ``429``/``500``/``400`` status, ``"sleep"`` (longer than the client timeout), ``"garbage-body"``,
    ``"garbage-verdict"`` (HTTP 200, unparseable content)."""

    def __init__(self) -> None:
        self.script: list = []
        self.requests: list[dict] = []
        self.always: object = None
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake.lock:
                    fake.requests.append(body)
                    fault = fake.script.pop(0) if fake.script else fake.always
                if isinstance(fault, int):
                    return self._send(fault, b'{"error": {"message": "injected"}}')
                if fault == "sleep":
                    time.sleep(1.5)
                if fault == "garbage-body":
                    return self._send(200, b"<html>bad gateway</html>", ctype="text/html")
                user = body["messages"][-1]["content"] if body["messages"][-1]["role"] == "user" else ""
                first_user = next(m["content"] for m in body["messages"] if m["role"] == "user")
                verdict, halluc = _pick(first_user), "<<<ANSWER (data" in first_user
                if halluc:
                    good = "GOOD" in first_user.split("<<<ANSWER (data", 1)[1]
                    verdict = "0" if good else "2"
                payload = {"verdict": int(verdict) if halluc else verdict, "reason": "fake"}
                if halluc:
                    payload["claims"] = [] if verdict == "0" else ["made-up claim"]
                content = "Sure! I pick A." if fault == "garbage-verdict" else json.dumps(payload)
                if "Your reply could not be read" in user and fault != "garbage-verdict":
                    content = json.dumps({**payload, "reason": "repaired"})
                choice = {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
                if body.get("logprobs"):
                    pair = ("0", "2") if halluc else ("A", "B")
                    p = 0.7 if verdict == pair[0] else 0.3
                    choice["message"]["content"] = verdict
                    top = [{"token": pair[0], "logprob": math.log(p), "bytes": None},
                           {"token": pair[1], "logprob": math.log(1 - p), "bytes": None}]
                    choice["logprobs"] = {"content": [{"token": verdict, "logprob": math.log(max(p, 1 - p)),
                                                       "bytes": None, "top_logprobs": top}]}
                resp = {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                        "choices": [choice], "usage": {"prompt_tokens": 100, "completion_tokens": 5, "total_tokens": 105}}
                self._send(200, json.dumps(resp).encode())

            def _send(self, code: int, data: bytes, ctype: str = "application/json"):
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
