"""Readers for ticket exports: CSV, ShareGPT, Alpaca and ticket-thread JSON -> raw conversations.

Each reader yields :class:`Record` objects; a row it cannot use carries ``error=(field, problem)``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cli_errors import read_text
from .issues import DataError, Issue


@dataclass
class Record:
    line: int
    id: str
    messages: list[dict[str, str]] = field(default_factory=list)  # role/content, roles user|assistant|system
    notes: list[tuple[str, str, str]] = field(default_factory=list)  # (field, action, detail) for the report
    error: tuple[str, str] | None = None


def iter_json_records(path: Path) -> Iterator[tuple[int, Any]]:
    """``(line, value)`` for each element of a JSON array file, or each line of a JSONL file.

    A JSONL line that cannot be parsed is yielded as a :class:`DataError` (the reader marks that row bad);
    a broken JSON array, or one nested too deeply to parse, raises it (nothing after it can be located)."""
    text = read_text(path)
    stripped = text.lstrip()
    if not stripped.startswith("["):
        for i, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    yield i, json.loads(line)
                except json.JSONDecodeError as exc:
                    yield i, DataError([Issue(str(path), i, "row", f"invalid JSON: {exc.msg}")])
                except RecursionError:
                    yield i, DataError([Issue(str(path), i, "row", "invalid JSON: nested too deeply")])
        return
    decoder = json.JSONDecoder()
    pos = len(text) - len(stripped) + 1
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            return
        line = text.count("\n", 0, pos) + 1
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise DataError([Issue(str(path), exc.lineno, "row", f"invalid JSON: {exc.msg}")]) from None
        except RecursionError:
            raise DataError([Issue(str(path), line, "row", "invalid JSON: nested too deeply")]) from None
        yield line, value


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _type_name(value: Any) -> str:
    return "null" if value is None else {"dict": "object", "list": "array", "str": "string"}.get(
        type(value).__name__, type(value).__name__)


def _string_problem(obj: dict[str, Any], key: str, *, optional: bool = False) -> tuple[str, str] | None:
    value = obj.get(key)
    if isinstance(value, str) or (optional and value is None):
        return None
    return key, f"expected a string, got {_type_name(value)}"


def _optional_text(rec: Record, obj: dict[str, Any], key: str) -> str | None:
    """``obj[key]`` stripped when it is a non-empty string; absent/null/empty -> None; another type marks
    ``rec`` bad (a field of the wrong type is an error, never silently ignored)."""
    problem = _string_problem(obj, key, optional=True)
    if problem is not None and rec.error is None:
        rec.error = problem
    return _text(obj.get(key))


def _row_id(rec: Record, obj: dict[str, Any], key: str) -> str:
    """The row's id from ``obj[key]`` (a string or integer; absent -> ``<file stem>-<line>``)."""
    value = obj.get(key)
    if value is None or value == "":
        return rec.id
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return str(value)
    if rec.error is None:
        rec.error = (key, f"expected a string or integer id, got {_type_name(value)}")
    return rec.id


def read_csv(path: Path, *, subject_col: str, message_col: str, reply_col: str, id_col: str) -> Iterator[Record]:
    """One ticket per row: optional subject + customer message -> user, agent reply -> assistant."""
    reader = csv.DictReader(io.StringIO(read_text(path).removeprefix("\ufeff"), newline=""))
    try:
        header = reader.fieldnames or []
        missing = [c for c in (message_col, reply_col) if c not in header]
        if missing:
            raise DataError([Issue(str(path), 1, c, f"column not found (columns: {', '.join(header)})") for c in missing])
        line = reader.line_num + 1
        for row in reader:
            rec = Record(line, _text(row.get(id_col)) or f"{path.stem}-{line}")
            line = reader.line_num + 1
            message, reply = _text(row.get(message_col)), _text(row.get(reply_col))
            subject = _text(row.get(subject_col)) if subject_col in header else None
            if message is None:
                rec.error = (message_col, "empty customer message")
            elif reply is None:
                rec.error = (reply_col, "empty agent reply")
            else:
                if subject and subject.lower() not in message.lower():
                    message = f"{subject}\n\n{message}"
                rec.messages = [{"role": "user", "content": message}, {"role": "assistant", "content": reply}]
            yield rec
    except csv.Error as exc:  # e.g. a field over the csv module's size limit: nothing after it can be read
        raise DataError([Issue(str(path), reader.line_num + 1, "row", f"unreadable CSV: {exc}")]) from None


def _list_problem(name: str, items: list[Any], check: Callable[[dict[str, Any]], tuple[str, str] | None]
                  ) -> tuple[str, str] | None:
    """The first problem among ``items`` as ``(field, problem)``: each must be an object that ``check`` accepts."""
    for k, item in enumerate(items):
        if not isinstance(item, dict):
            return f"{name}[{k}]", f"expected an object, got {_type_name(item)}"
        problem = check(item)
        if problem is not None:
            return f"{name}[{k}].{problem[0]}", problem[1]
    return None


SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}


def _sharegpt_turn_problem(turn: dict[str, Any]) -> tuple[str, str] | None:
    speaker = turn.get("from")
    if not isinstance(speaker, str) or speaker not in SHAREGPT_ROLES:
        return "from", f"unknown or missing speaker {speaker!r}"
    return _string_problem(turn, "value")


def read_sharegpt(path: Path) -> Iterator[Record]:
    """ShareGPT: ``{"id"?, "conversations": [{"from": human|gpt|system, "value": ...}]}`` (JSON array or JSONL)."""
    for line, obj in iter_json_records(path):
        rec = Record(line, f"{path.stem}-{line}")
        if isinstance(obj, DataError):
            rec.error = ("row", obj.issues[0].problem)
        elif not isinstance(obj, dict) or not isinstance(obj.get("conversations"), list):
            rec.error = ("conversations", "missing or not a list")
        else:
            rec.id = _row_id(rec, obj, "id")
            rec.error = rec.error or _list_problem("conversations", obj["conversations"], _sharegpt_turn_problem)
            if rec.error is None:
                rec.messages = [{"role": SHAREGPT_ROLES[t["from"]], "content": t["value"].strip()}
                                for t in obj["conversations"]]
        yield rec


def read_alpaca(path: Path) -> Iterator[Record]:
    """Alpaca: ``{"instruction", "input"?, "output"}`` -> user (instruction + input), assistant (output)."""
    for line, obj in iter_json_records(path):
        rec = Record(line, f"{path.stem}-{line}")
        if isinstance(obj, DataError):
            rec.error = ("row", obj.issues[0].problem)
        elif not isinstance(obj, dict):
            rec.error = ("row", f"expected an object, got {_type_name(obj)}")
        else:
            instruction, extra, output = (_optional_text(rec, obj, k) for k in ("instruction", "input", "output"))
            if rec.error is None and instruction is None:
                rec.error = ("instruction", "missing or empty")
            elif rec.error is None and output is None:
                rec.error = ("output", "missing or empty")
            elif rec.error is None:
                user = f"{instruction}\n\n{extra}" if extra else instruction
                rec.messages = [{"role": "user", "content": user}, {"role": "assistant", "content": output}]
        yield rec


THREAD_ROLES = {"customer": "user", "agent": "assistant"}


def _thread_message_problem(m: dict[str, Any]) -> tuple[str, str] | None:
    author = m.get("author_type")
    if not isinstance(author, str) or author not in THREAD_ROLES:
        return "author_type", f"expected customer or agent, got {author!r}"
    return _string_problem(m, "body") or _string_problem(m, "created_at", optional=True)


def read_thread(path: Path) -> Iterator[Record]:
    """Ticket threads: ``{"ticket_id", "subject", "messages": [{"author_type": customer|agent, "body",
    "created_at"}]}`` (JSON array or JSONL). Messages are put in ``created_at`` order (reported when
    that changes the order); the subject is prefixed to the first customer message."""
    for line, obj in iter_json_records(path):
        rec = Record(line, f"{path.stem}-{line}")
        if isinstance(obj, DataError):
            rec.error = ("row", obj.issues[0].problem)
            yield rec
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("messages"), list):
            rec.error = ("messages", "missing or not a list")
            yield rec
            continue
        rec.id = _row_id(rec, obj, "ticket_id")
        subject = _optional_text(rec, obj, "subject")
        msgs = obj["messages"]
        rec.error = rec.error or _list_problem("messages", msgs, _thread_message_problem)
        if rec.error is None:
            if all(isinstance(m.get("created_at"), str) for m in msgs):
                ordered = sorted(msgs, key=lambda m: m["created_at"])
                if ordered != msgs:
                    rec.notes.append(("messages", "reordered", "messages sorted by created_at"))
                msgs = ordered
            rec.messages = [{"role": THREAD_ROLES[m["author_type"]], "content": m["body"].strip()} for m in msgs]
            first_user = next((m for m in rec.messages if m["role"] == "user"), None)
            if subject and first_user and subject.lower() not in first_user["content"].lower():
                first_user["content"] = f"{subject}\n\n{first_user['content']}"
        yield rec
