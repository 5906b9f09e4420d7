"""Append-only JSONL cache of judge responses, keyed by sha256 of (messages, judge model, decoding).

One file per judge config (``results/judgments/cache/<name>.jsonl``). A row is appended and fsynced
as soon as a response arrives, so a killed run loses at most the request in flight; the next run
moves a broken last line (cut mid-write, even when it ends with a newline) to ``<file>.rejected``
with a warning, reads every complete row and asks only for the rest. Any other bad line is an
error naming ``file:line``. Rows are never rewritten; a key seen twice keeps its first row.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from supportbot.jsonl import append_jsonl, iter_jsonl, repair_tail
from supportbot.paths import RESULTS_DIR

CACHE_DIR = RESULTS_DIR / "judgments" / "cache"


def cache_key(messages: list[dict[str, str]], model: str, decoding: dict[str, Any]) -> str:
    blob = json.dumps({"messages": messages, "model": model, "decoding": decoding},
                      sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class JudgmentCache:
    """Thread-safe get/put over an append-only JSONL file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._rows: dict[str, dict[str, Any]] = {}
        self.repair_note = repair_tail(self.path)
        if self.repair_note:
            print(f"warning: {self.repair_note}", file=sys.stderr, flush=True)
        if self.path.is_file():
            for _, row in iter_jsonl(self.path):
                if "key" in row and "response" in row:
                    self._rows.setdefault(row["key"], row)

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, key: str) -> bool:
        return key in self._rows

    def get(self, key: str) -> dict[str, Any] | None:
        row = self._rows.get(key)
        return None if row is None else row["response"]

    def put(self, key: str, response: dict[str, Any], meta: dict[str, Any] | None = None) -> None:
        with self._lock:
            if key in self._rows:
                return
            row = {"key": key, "response": response, **(meta or {}), "created": round(time.time(), 3)}
            append_jsonl(self.path, row)
            self._rows[key] = row
