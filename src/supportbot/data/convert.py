"""`convert`: ticket exports (CSV, ShareGPT, Alpaca, ticket threads) -> messages JSONL with a change report."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..cli_args import fraction
from ..cli_errors import CliError, check_writable
from ..jsonl import write_jsonl
from ..paths import load_prompt
from .authoring import normalize
from .cleaning import clean_text
from .issues import DataError, Issue
from .schema import conversation_problems
from .sources import Record, read_alpaca, read_csv, read_sharegpt, read_thread
from .split import grouped_split


def _tidy(rec: Record) -> list[dict[str, str]]:
    """Clean texts, drop what cannot be trained on, merge same-role runs; log each change on ``rec``."""
    msgs = []
    for k, m in enumerate(rec.messages):
        if m["role"] == "system":
            rec.notes.append((f"messages[{k}]", "dropped_system", "source system message replaced by the project system prompt"))
            continue
        text, changes = clean_text(m["content"])
        for c in changes:
            rec.notes.append((f"messages[{k}].content", c.action, c.detail))
        if not text:
            rec.notes.append((f"messages[{k}]", "dropped_empty", "message empty after cleaning"))
            continue
        msgs.append({"role": m["role"], "content": text})
    merged: list[dict[str, str]] = []
    for m in msgs:
        if merged and merged[-1]["role"] == m["role"]:
            merged[-1]["content"] += "\n\n" + m["content"]
            rec.notes.append(("messages", "merged", f"merged consecutive {m['role']} messages"))
        else:
            merged.append(dict(m))
    while merged and merged[0]["role"] == "assistant":
        rec.notes.append(("messages", "dropped_leading_agent", f"dropped agent message before the customer's: {merged.pop(0)['content'][:60]!r}"))
    while merged and merged[-1]["role"] == "user" and len(merged) > 1:
        rec.notes.append(("messages", "dropped_trailing_customer", f"dropped customer message with no reply: {merged.pop()['content'][:60]!r}"))
    return merged


def convert_records(
    records: Iterable[Record], *, path: Path, system_prompt: str, skip_bad: bool
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Clean, check and deduplicate; return rows and the report. Bad rows raise unless ``skip_bad``."""
    rows: list[dict[str, Any]] = []
    report: dict[str, Any] = {"input": str(path), "rows_in": 0, "changes": [], "duplicates": [], "skipped": []}
    bad: list[Issue] = []
    seen: dict[str, tuple[int, str]] = {}
    ids: dict[str, int] = {}
    for rec in records:
        report["rows_in"] += 1
        messages = _tidy(rec) if rec.error is None else []
        if rec.error is None:
            problems = conversation_problems([m["role"] for m in messages], kind="train")
            if problems:
                rec.error = problems[0]
        if rec.error is None and rec.id in ids:
            rec.error = ("id", f"duplicate id {rec.id!r} (first at line {ids[rec.id]})")
        if rec.error is not None:
            bad.append(Issue(str(path), rec.line, *rec.error))
            report["skipped"].append({"line": rec.line, "id": rec.id, "field": rec.error[0], "problem": rec.error[1]})
            continue
        ids[rec.id] = rec.line
        report["changes"] += [{"line": rec.line, "id": rec.id, "field": f, "action": a, "detail": d} for f, a, d in rec.notes]
        key = "\n".join(f"{m['role']}: {normalize(m['content'])}" for m in messages)
        if key in seen:
            first_line, first_id = seen[key]
            report["duplicates"].append({"line": rec.line, "id": rec.id, "duplicate_of_line": first_line,
                                         "duplicate_of_id": first_id, "reason": "same normalized text"})
            continue
        seen[key] = (rec.line, rec.id)
        rows.append({"messages": [{"role": "system", "content": system_prompt}] + messages, "id": rec.id})
    if bad and not skip_bad:
        raise DataError(bad)
    return rows, report


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert",
        help="convert CSV / ShareGPT / Alpaca / ticket-thread exports into messages JSONL",
        description="Convert a support export into training rows {messages, id} with the project system "
        "prompt first. Strips signatures ('--', 'Best regards, ...', 'Sent from my iPhone') and PII "
        "(emails -> [email], phone numbers -> [phone]), merges consecutive same-role messages, removes "
        "duplicates (normalized text) and writes a JSON report of every change. A row that cannot be used "
        "is an error naming file:line unless --skip-bad, which moves it to the report.",
    )
    p.add_argument("format", choices=["csv", "sharegpt", "alpaca", "thread"],
                   help="csv: one ticket per row; sharegpt: conversations from/value; alpaca: "
                   "instruction/input/output; thread: {ticket_id, subject, messages: [{author_type, body, created_at}]}")
    p.add_argument("input", type=Path)
    p.add_argument("--out", type=Path, required=True, help="training rows (JSONL)")
    p.add_argument("--dev-out", type=Path, help="also split off a dev set into this file")
    p.add_argument("--dev-fraction", type=fraction, default=0.1, help="share of the rows for --dev-out, in [0, 1)")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--report", type=Path, help="JSON report of changes (default: OUT with .report.json)")
    p.add_argument("--skip-bad", action="store_true", help="skip unusable rows (listed in the report) instead of failing")
    g = p.add_argument_group("csv columns")
    g.add_argument("--subject-col", default="subject")
    g.add_argument("--message-col", default="message", help="customer message column")
    g.add_argument("--reply-col", default="reply", help="agent reply column")
    g.add_argument("--id-col", default="ticket_id")
    p.set_defaults(func=run)


def _outputs(args: argparse.Namespace) -> list[Path]:
    """Every file the run writes; all are checked before any is written, so a bad one leaves no half output."""
    report = args.report or args.out.with_suffix(".report.json")
    outputs = [args.out, *([args.dev_out] if args.dev_out else []), report]
    resolved = [p.resolve() for p in outputs]
    for k, p in enumerate(resolved):
        if p in resolved[:k] or p == args.input.resolve():
            raise CliError(f"{outputs[k]}: given twice among the input, --out, --dev-out and --report")
    check_writable(*outputs)
    return outputs


def run(args: argparse.Namespace) -> int:
    outputs = _outputs(args)
    if args.format == "csv":
        records = read_csv(args.input, subject_col=args.subject_col, message_col=args.message_col,
                           reply_col=args.reply_col, id_col=args.id_col)
    else:
        records = {"sharegpt": read_sharegpt, "alpaca": read_alpaca, "thread": read_thread}[args.format](args.input)
    rows, report = convert_records(records, path=args.input, system_prompt=load_prompt("support_system"),
                                   skip_bad=args.skip_bad)
    report["format"] = args.format
    dev_rows: list[dict[str, Any]] = []
    if args.dev_out:
        dev_ids = grouped_split([(r["id"], "all", 1) for r in rows], dev_fraction=args.dev_fraction, seed=args.seed)
        dev_rows = [r for r in rows if r["id"] in dev_ids]
        rows = [r for r in rows if r["id"] not in dev_ids]
    report.update(rows_train=len(rows), rows_dev=len(dev_rows))
    # a lone surrogate (a "\\udcff" escape in the input) stays a JSON escape instead of failing mid-output
    report_bytes = (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode("utf-8", "backslashreplace")
    if args.dev_out:
        write_jsonl(args.dev_out, dev_rows)
    write_jsonl(args.out, rows)
    report_path = outputs[-1]
    report_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = report_path.with_name(report_path.name + ".tmp")
    tmp.write_bytes(report_bytes)
    tmp.replace(report_path)
    print(f"{args.input}: {report['rows_in']} rows in -> {len(rows)} train, {len(dev_rows)} dev; "
          f"{len(report['changes'])} changes, {len(report['duplicates'])} duplicates dropped, "
          f"{len(report['skipped'])} bad rows skipped; report {report_path}")
    return 0
