"""JSONL reading with file:line errors, and crash-safe appends for caches and resumable stages."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class JsonlError(ValueError):
    """A JSONL row that cannot be parsed; the message names file and line."""


def iter_jsonl(path: str | Path, *, allow_truncated_tail: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, row)`` for each non-empty line.

    ``allow_truncated_tail`` tolerates a half-written last line (a run killed mid-write of an
    append-only cache); any other bad line raises :class:`JsonlError` naming ``file:line``.
    """
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            if allow_truncated_tail and i == len(lines):
                return
            raise JsonlError(f"{path}:{i}: invalid JSON: {exc.msg}") from None
        if not isinstance(row, dict):
            raise JsonlError(f"{path}:{i}: expected a JSON object, got {type(row).__name__}")
        yield i, row


def read_jsonl(path: str | Path, **kwargs: Any) -> list[dict[str, Any]]:
    """Read every row of a JSONL file (see :func:`iter_jsonl`)."""
    return [row for _, row in iter_jsonl(path, **kwargs)]


def append_jsonl(path: str | Path, row: dict[str, Any]) -> None:
    """Append one row and fsync, so a crash loses at most the row being written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def write_jsonl(path: str | Path, rows: list[dict[str, Any]]) -> None:
    """Atomically (write to temp, then rename) replace ``path`` with ``rows``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
