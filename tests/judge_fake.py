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
from pathlib import Path


def _pick(user: str) -> str:
    """The fake judge prefers the answer containing GOOD (so verdicts depend on the order)."""
    a = re.search(r"<<<ANSWER A.*?\n(.*?)\nEND OF ANSWER A", user, re.S)
    return "A" if a and "GOOD" in a.group(1) else "B"


class FakeJudge:
    """``script``: faults to play, one per request, before answering normally:
    ``429``/``500``/``400`` status, ``"sleep"`` (longer than the client timeout), ``"garbage-body"``,
    ``"garbage-verdict"`` (HTTP 200, unparseable content).

    Also enough of an OpenAI upstream for the service's ``--upstream`` mode: ``GET /v1/models`` lists
    ``fake-judge`` and ``"stream": true`` is answered as server-sent events."""

    def __init__(self) -> None:
        self.script: list = []
        self.requests: list[dict] = []
        self.always: object = None
        self.delay = 0.0  # seconds before each answer (a slow judge, to kill a run mid-way)
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def do_GET(self):  # noqa: N802
                if self.path.rstrip("/").endswith("/v1/models"):
                    models = {"object": "list", "data": [{"id": "fake-judge", "object": "model", "max_model_len": 4096}]}
                    return self._send(200, json.dumps(models).encode())
                self._send(404, b'{"error": {"message": "not found"}}')

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake.lock:
                    fake.requests.append(body)
                    fault = fake.script.pop(0) if fake.script else fake.always
                time.sleep(fake.delay)
                if isinstance(fault, int):
                    return self._send(fault, b'{"error": {"message": "injected"}}')
                if fault == "sleep":
                    time.sleep(1.5)
                if fault == "garbage-body":
                    return self._send(200, b"<html>bad gateway</html>", ctype="text/html")
                user = body["messages"][-1]["content"] if body["messages"][-1]["role"] == "user" else ""
                first_user = next((m["content"] for m in body["messages"] if m["role"] == "user"), "")
                verdict, halluc = _pick(first_user), "<<<ANSWER (data" in first_user
                check = halluc and "Reply Yes or No." in first_user  # a checklist check (src/supportbot/judge/graders/checks.py)
                if check:  # "Yes" when the answer holds GOOD
                    verdict = "Yes" if "GOOD" in first_user.split("END OF ANSWER>>>", 1)[0] else "No"
                elif halluc:
                    good = "GOOD" in first_user.split("<<<ANSWER (data", 1)[1]
                    verdict = "0" if good else "2"
                payload = {"verdict": int(verdict) if halluc and not check else verdict, "reason": "fake"}
                if halluc and not check:
                    payload["claims"] = [] if verdict == "0" else ["made-up claim"]
                content = "Sure! I pick A." if fault == "garbage-verdict" else json.dumps(payload)
                if "Your reply could not be read" in user and fault != "garbage-verdict":
                    content = json.dumps({**payload, "reason": "repaired"})
                choice = {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
                if body.get("logprobs"):
                    pair = ("Yes", "No") if check else ("0", "2") if halluc else ("A", "B")
                    p = 0.7 if verdict == pair[0] else 0.3
                    choice["message"]["content"] = verdict
                    top = [{"token": pair[0], "logprob": math.log(p), "bytes": None},
                           {"token": pair[1], "logprob": math.log(1 - p), "bytes": None}]
                    choice["logprobs"] = {"content": [{"token": verdict, "logprob": math.log(max(p, 1 - p)),
                                                       "bytes": None, "top_logprobs": top}]}
                resp = {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                        "choices": [choice], "usage": {"prompt_tokens": 100, "completion_tokens": 5, "total_tokens": 105}}
                if body.get("stream"):
                    chunk = {**resp, "object": "chat.completion.chunk",
                             "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": "stop"}]}
                    return self._send(200, f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode(),
                                      ctype="text/event-stream")
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


def write_jsonl_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_workspace(tmp: Path, n: int = 6) -> Path:
    """Eval items, two answer files and both rubric sets for ``judge/run.py`` in ``tmp``.

    The candidate's answer holds GOOD on q0..q3 (the fake judge prefers it), the baseline's on q4,
    none on q5 and beyond; q4 is unanswerable.
    """
    items = [{"id": f"q{i}", "domain": "it", "category": "misc", "answerable": i != 4,
              "messages": [{"role": "user", "content": f"Question {i}?"}],
              "reference_answer": f"Reference {i}.", "key_facts": [f"fact {i}"], "forbidden_claims": [f"wrong {i}"],
              "kb_refs": []} for i in range(n)]
    write_jsonl_rows(tmp / "eval.jsonl", items)
    write_jsonl_rows(tmp / "base.jsonl", [{"id": f"q{i}", "answer": "GOOD base" if i == 4 else "base " * (i + 1),
                                           "model": "base", "completion_tokens": 3} for i in range(n)])
    write_jsonl_rows(tmp / "tuned.jsonl", [{"id": f"q{i}", "answer": "GOOD tuned " * (i + 1) if i < 4 else "tuned",
                                            "model": "tuned", "completion_tokens": 4} for i in range(n)])
    rub = tmp / "rubric"
    rub.mkdir(exist_ok=True)
    write_jsonl_rows(rub / "hallucination.jsonl", [
        {"id": "q0", "model": "base", "answer": "GOOD", "label": 0, "rationale": "matches the reference"},
        {"id": "q1", "model": "base", "answer": "bad", "label": 2, "rationale": "invents a menu"},
        {"id": "q2", "model": "tuned", "answer": "GOOD", "label": 0, "rationale": "fine"},
        {"id": "q3", "model": "tuned", "answer": "meh", "label": 1, "rationale": "extra detail"},
        {"id": "q4", "model": "tuned", "answer": "GOOD", "label": "not_attempted", "rationale": "escalates"}])
    write_jsonl_rows(rub / "pairwise.jsonl", [
        {"id": "q0", "answer_a": "GOOD", "answer_b": "bad", "label": "A", "rationale": "a is right"},
        {"id": "q1", "answer_a": "bad", "answer_b": "GOOD", "label": "B", "rationale": "b is right"},
        {"id": "q2", "answer_a": "x", "answer_b": "y", "label": "tie", "rationale": "same"}])
    return tmp


def cli_args(tmp: Path, base_url: str, *extra: str) -> list[str]:
    """``judge/run.py`` options for a :func:`write_workspace` folder and a judge at ``base_url`` (JSON verdicts)."""
    return ["--judge", "local-qwen0.5b", "--judge-base-url", base_url, "--verdict-mode", "json",
            "--eval", str(tmp / "eval.jsonl"), "--baseline", str(tmp / "base.jsonl"),
            "--candidate", str(tmp / "tuned.jsonl"), "--rubric-dir", str(tmp / "rubric"), "--out-dir", str(tmp / "out"),
            "--cache", str(tmp / "cache.jsonl"), "--no-progress", *extra]
