"""`validate`: check JSONL files row by row and report every problem as file:line: field: problem."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from ..cli_args import positive_int
from ..jsonl import LineError, iter_lines, parse_line
from .issues import ROW, DataError, Issue, loc_to_field, pydantic_problems
from .schema import EvalRow, TrainRow
from .tokens import (
    DEFAULT_CONFIG,
    DEFAULT_TOKENIZER,
    config_sequence_len,
    count_tokens,
    load_tokenizer,
    measured_messages,
)

EVAL_KEYS = {"reference_answer", "key_facts", "forbidden_claims", "answerable"}
Kind = Literal["train", "eval"]


def read_rows(path: Path, issues: list[Issue]) -> list[tuple[int, Any]]:
    """Every non-blank line as ``(line, parsed)``; a line that is not UTF-8, not JSON or gives a key twice
    becomes an issue, and so does a file without any row."""
    rows = []
    n_lines = 0
    for i, raw in iter_lines(path):
        n_lines += 1
        try:
            rows.append((i, parse_line(raw)))
        except LineError as exc:
            issues.append(Issue(str(path), i, exc.field, exc.problem))
    if n_lines == 0:
        issues.append(Issue(str(path), 0, ROW, "no rows: the file is empty"))
    return rows


def detect_kind(rows: list[tuple[int, Any]]) -> Kind:
    """eval if any row carries an eval-only key, else train."""
    return "eval" if any(isinstance(r, dict) and EVAL_KEYS & r.keys() for _, r in rows) else "train"


def check_rows(path: Path, rows: list[tuple[int, Any]], kind: Kind) -> tuple[list[Issue], list[tuple[int, dict]]]:
    """Schema issues, and the rows that passed."""
    model = EvalRow if kind == "eval" else TrainRow
    issues: list[Issue] = []
    good: list[tuple[int, dict]] = []
    for line, row in rows:
        if not isinstance(row, dict):
            issues.append(Issue(str(path), line, ROW, f"expected a JSON object, got {type(row).__name__}"))
            continue
        try:
            model.model_validate(row)
        except ValidationError as exc:
            issues += [Issue(str(path), line, loc_to_field(loc), p) for loc, p in pydantic_problems(exc)]
            continue
        good.append((line, row))
    return issues, good


def validate_files(
    paths: list[Path], *, sequence_len: int | None, tokenizer: Any | None, kind: Kind | None = None
) -> tuple[list[Issue], dict[str, int]]:
    """Validate files; return all issues and the row count per file. Ids must be unique across files."""
    issues: list[Issue] = []
    counts: dict[str, int] = {}
    seen_ids: dict[str, str] = {}
    for path in paths:
        if not path.is_file():
            issues.append(Issue(str(path), 0, ROW, "is a folder, not a file" if path.is_dir() else "file not found"))
            continue
        rows = read_rows(path, issues)
        counts[str(path)] = len(rows)
        file_kind = kind or detect_kind(rows)
        row_issues, good = check_rows(path, rows, file_kind)
        issues += row_issues
        for line, row in rows:
            rid = row.get("id") if isinstance(row, dict) else None
            if isinstance(rid, str):
                where = f"{path}:{line}"
                first = seen_ids.setdefault(rid, where)
                if first != where:
                    issues.append(Issue(str(path), line, "id", f"duplicate id {rid!r} (first at {first})"))
        if tokenizer is not None and sequence_len is not None and good:
            lengths = count_tokens(tokenizer, [measured_messages(r) for _, r in good])
            for (line, _), n in zip(good, lengths, strict=True):
                if n > sequence_len:
                    issues.append(Issue(str(path), line, "messages",
                                        f"too long: {n} tokens with the chat template > sequence_len {sequence_len}"))
    issues.sort(key=lambda i: (i.file, i.line))
    return issues, counts


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate",
        help="check train/dev/eval JSONL files; print file:line: field: problem for every bad row",
        description="Validate messages JSONL files. The kind of each file is detected from its keys "
        "(rows with reference_answer/key_facts/forbidden_claims/answerable = eval items, else training "
        "rows). Checks JSON, schema (roles, order, empty content, unknown keys, types), ids unique "
        "across all given files, and the token length with the tokenizer's chat template against "
        "sequence_len (eval items: system prompt + messages + reference answer). Exits 1 on any problem.",
    )
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--kind", choices=["train", "eval"], help="force the file kind instead of detecting it")
    p.add_argument("--sequence-len", type=positive_int,
                   help=f"maximum tokens per row (default: sequence_len of {DEFAULT_CONFIG.name})")
    p.add_argument("--tokenizer", type=Path, default=DEFAULT_TOKENIZER, help="local tokenizer folder")
    p.add_argument("--no-length-check", action="store_true", help="skip the token length check")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    tokenizer = None
    seq_len = None
    if not args.no_length_check:
        seq_len = args.sequence_len or config_sequence_len()
        tokenizer = load_tokenizer(args.tokenizer)
    issues, counts = validate_files(args.files, sequence_len=seq_len, tokenizer=tokenizer, kind=args.kind)
    if issues:
        raise DataError(issues)
    for f, n in counts.items():
        print(f"{f}: {n} rows OK")
    if seq_len is not None:
        print(f"all rows within sequence_len {seq_len}")
    return 0
