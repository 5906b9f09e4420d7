"""JSONL reading with file:line errors, and crash-safe appends for caches and resumable stages.

Every line is checked the same way everywhere (:func:`parse_line`): UTF-8 text, valid JSON, no key
given twice in one object (JSON would silently keep the last copy). Append-only files are repaired
before a writer appends (:func:`repair_tail`): a last line that a killed run left broken is moved
aside, never appended after and never silently dropped.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .cli_errors import read_bytes

ROW = "row"  # field name for problems that concern the whole line


class JsonlError(ValueError):
    """A JSONL row that cannot be parsed; the message names file and line."""


class FileBusyError(ValueError):
    """Another process holds the writer's lock on this file (:func:`exclusive_writer`)."""


class LineError(ValueError):
    """One line that is not a JSON row: ``problem`` and the ``field`` it concerns (``row`` for the whole line)."""

    def __init__(self, problem: str, field: str = ROW) -> None:
        super().__init__(problem if field == ROW else f"{field}: {problem}")
        self.problem, self.field = problem, field


class _Pairs(list):
    """The key/value pairs of one JSON object, before duplicate keys are checked."""


def _objects(value: Any, path: str = "") -> Any:
    """``value`` with every :class:`_Pairs` turned into a dict; a key given twice raises :class:`LineError`."""
    if isinstance(value, _Pairs):
        out: dict[str, Any] = {}
        for key, item in value:
            where = f"{path}.{key}" if path else key
            if key in out:
                raise LineError("key given twice in one object (JSON would keep only the last copy)", where)
            out[key] = _objects(item, where)
        return out
    if isinstance(value, list):
        return [_objects(item, f"{path}[{i}]") for i, item in enumerate(value)]
    return value


def parse_line(raw: bytes | str) -> Any:
    """One JSONL line as a JSON value; raises :class:`LineError` for non-UTF-8 bytes, bad JSON, duplicate keys."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LineError(f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at column {exc.start + 1} "
                            "(save the file as UTF-8)") from None
    try:
        value = json.loads(raw, object_pairs_hook=_Pairs)
    except json.JSONDecodeError as exc:
        raise LineError(f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise LineError("invalid JSON: nested too deeply") from None
    return _objects(value)


def parse_row(raw: bytes | str) -> dict[str, Any]:
    """:func:`parse_line`, and the value must be a JSON object."""
    row = parse_line(raw)
    if not isinstance(row, dict):
        raise LineError(f"expected a JSON object, got {type(row).__name__}")
    return row


def iter_lines(path: str | Path) -> Iterator[tuple[int, bytes]]:
    """``(line_number, raw bytes)`` of every non-blank line."""
    for i, raw in enumerate(read_bytes(path).split(b"\n"), start=1):
        if raw.strip():
            yield i, raw


def iter_jsonl(path: str | Path, *, allow_truncated_tail: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, row)`` for each non-empty line.

    ``allow_truncated_tail`` (read-only consumers of an append-only file) skips a broken last line
    with a warning on stderr naming ``file:line``; any other bad line raises :class:`JsonlError`.
    Writers call :func:`repair_tail` first instead.
    """
    path = Path(path)
    lines = list(iter_lines(path))
    for n, (i, raw) in enumerate(lines, start=1):
        try:
            row = parse_row(raw)
        except LineError as exc:
            if allow_truncated_tail and n == len(lines):
                print(f"warning: {path}:{i}: skipped the broken last line ({exc}); "
                      "a run killed mid-write leaves one, the next run of its writer moves it aside",
                      file=sys.stderr)
                return
            raise JsonlError(f"{path}:{i}: {exc}") from None
        yield i, row


def read_jsonl(path: str | Path, **kwargs: Any) -> list[dict[str, Any]]:
    """Read every row of a JSONL file (see :func:`iter_jsonl`)."""
    return [row for _, row in iter_jsonl(path, **kwargs)]


def rejected_path(path: str | Path) -> Path:
    """Where :func:`repair_tail` puts a broken last line of ``path``."""
    path = Path(path)
    return path.with_name(path.name + ".rejected")


def repair_tail(path: str | Path) -> str | None:
    """Make an append-only JSONL file safe to append to after a crash; returns what was done, or None.

    A last line that is not a complete JSON row (cut mid-write, garbage bytes, even when it ends with a
    newline) is appended to ``<file>.rejected`` and cut from the file, so no later row lands after it;
    a complete last row that lacks its newline gets one (no good row is lost). Only the last line is
    touched: a bad line before it stays an error for the reader.
    """
    path = Path(path)
    if not path.is_file():
        return None
    data = path.read_bytes()
    end = len(data.rstrip(b" \t\r\n"))
    if end == 0:
        return None
    start = data.rfind(b"\n", 0, end) + 1
    line_no = data.count(b"\n", 0, start) + 1
    try:
        parse_row(data[start:end])
    except LineError as exc:
        aside = rejected_path(path)
        with aside.open("ab") as fh:
            fh.write(data[start:end] + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        with path.open("rb+") as fh:
            fh.truncate(start)
            fh.flush()
            os.fsync(fh.fileno())
        return (f"{path}:{line_no}: the last line is not a complete JSON row ({exc}), as a run killed "
                f"mid-write leaves it: moved it to {aside} and cut it from the file (every row before it is kept)")
    if not data.endswith(b"\n"):
        with path.open("ab") as fh:
            fh.write(b"\n")
            fh.flush()
            os.fsync(fh.fileno())
    return None


def dump_line(row: dict[str, Any]) -> bytes:
    """One row as a UTF-8 JSONL line; text UTF-8 cannot carry (a lone surrogate) is written escaped."""
    try:
        return (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(row) + "\n").encode("ascii")


def append_jsonl(path: str | Path, row: dict[str, Any]) -> None:
    """Append one row (one write) and fsync, so a crash loses at most the row being written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = dump_line(row)
    with path.open("ab") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def write_jsonl(path: str | Path, rows: list[dict[str, Any]]) -> None:
    """Atomically (write to temp, then rename) replace ``path`` with ``rows``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("wb") as fh:
        for row in rows:
            fh.write(dump_line(row))
    os.replace(tmp, path)


@contextlib.contextmanager
def exclusive_writer(path: str | Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` for the block, so that only one process appends to it.

    A second writer gets :class:`FileBusyError` naming the file at once (no waiting). The lock goes
    with the process, a SIGKILLed one included. The file is created when missing (removed again if the
    block wrote nothing to it), so the lock is on the file itself and no lock file is left behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FileBusyError(f"{path}: another process is writing this file (it holds the lock); "
                                "wait for it to finish, or use another output file") from None
        if os.fstat(fd).st_ino != os.stat(path).st_ino:  # removed and made again while we waited for the lock
            raise FileBusyError(f"{path}: the file was replaced while this run opened it; run again")
        yield
        if created and os.fstat(fd).st_size == 0:
            path.unlink(missing_ok=True)
    finally:
        os.close(fd)
