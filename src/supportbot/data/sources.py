"""Readers for ticket exports: CSV, ShareGPT, Alpaca and ticket-thread JSON -> raw conversations.

Each reader yields :class:`Record` objects; a row it cannot use carries ``error=(field, problem)``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .issues import DataError, Issue


@dataclass
class Record:
    line: int
    id: str
    messages: list[dict[str, str]] = field(default_factory=list)  # role/content, roles user|assistant|system
    notes: list[tuple[str, str, str]] = field(default_factory=list)  # (field, action, detail) for the report
    error: tuple[str, str] | None = None


def iter_json_records(path: Path) -> Iterator[tuple[int, Any]]:
    """``(line, value)`` for each element of a JSON array file, or each line of a JSONL file."""
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if not stripped.startswith("["):
        for i, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    yield i, json.loads(line)
                except json.JSONDecodeError as exc:
                    yield i, DataError([Issue(str(path), i, "row", f"invalid JSON: {exc.msg}")])
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
        yield line, value


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def read_csv(path: Path, *, subject_col: str, message_col: str, reply_col: str, id_col: str) -> Iterator[Record]:
    """One ticket per row: optional subject + customer message -> user, agent reply -> assistant."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
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


SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}


def read_sharegpt(path: Path) -> Iterator[Record]:
    """ShareGPT: ``{"id"?, "conversations": [{"from": human|gpt|system, "value": ...}]}`` (JSON array or JSONL)."""
    for line, obj in iter_json_records(path):
        rec = Record(line, f"{path.stem}-{line}")
        if isinstance(obj, DataError):
            rec.error = ("row", obj.issues[0].problem)
        elif not isinstance(obj, dict) or not isinstance(obj.get("conversations"), list):
            rec.error = ("conversations", "missing or not a list")
        else:
            rec.id = str(obj.get("id") or rec.id)
            for k, turn in enumerate(obj["conversations"]):
                role = SHAREGPT_ROLES.get(turn.get("from")) if isinstance(turn, dict) else None
                if role is None:
                    rec.error = (f"conversations[{k}].from", f"unknown or missing speaker {turn.get('from') if isinstance(turn, dict) else turn!r}")
                    break
                if not isinstance(turn.get("value"), str):
                    rec.error = (f"conversations[{k}].value", "missing or not a string")
                    break
                rec.messages.append({"role": role, "content": turn["value"].strip()})
        yield rec


def read_alpaca(path: Path) -> Iterator[Record]:
    """Alpaca: ``{"instruction", "input"?, "output"}`` -> user (instruction + input), assistant (output)."""
    for line, obj in iter_json_records(path):
        rec = Record(line, f"{path.stem}-{line}")
        if isinstance(obj, DataError):
            rec.error = ("row", obj.issues[0].problem)
        elif not isinstance(obj, dict):
            rec.error = ("row", f"expected an object, got {type(obj).__name__}")
        elif _text(obj.get("instruction")) is None:
            rec.error = ("instruction", "missing or empty")
        elif _text(obj.get("output")) is None:
            rec.error = ("output", "missing or empty")
        else:
            user = obj["instruction"].strip()
            if _text(obj.get("input")):
                user += "\n\n" + obj["input"].strip()
            rec.messages = [{"role": "user", "content": user}, {"role": "assistant", "content": obj["output"].strip()}]
        yield rec


THREAD_ROLES = {"customer": "user", "agent": "assistant"}


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
        rec.id = str(obj.get("ticket_id") or rec.id)
        msgs = obj["messages"]
        for k, m in enumerate(msgs):
            if not isinstance(m, dict) or m.get("author_type") not in THREAD_ROLES:
                got = m.get("author_type") if isinstance(m, dict) else m
                rec.error = (f"messages[{k}].author_type", f"expected customer or agent, got {got!r}")
                break
            if not isinstance(m.get("body"), str):
                rec.error = (f"messages[{k}].body", "missing or not a string")
                break
        if rec.error is None:
            if all(isinstance(m.get("created_at"), str) for m in msgs):
                ordered = sorted(msgs, key=lambda m: m["created_at"])
                if ordered != msgs:
                    rec.notes.append(("messages", "reordered", "messages sorted by created_at"))
                msgs = ordered
            rec.messages = [{"role": THREAD_ROLES[m["author_type"]], "content": m["body"].strip()} for m in msgs]
            subject = _text(obj.get("subject"))
            first_user = next((m for m in rec.messages if m["role"] == "user"), None)
            if subject and first_user and subject.lower() not in first_user["content"].lower():
                first_user["content"] = f"{subject}\n\n{first_user['content']}"
        yield rec
