"""``python -m supportbot.data <subcommand>``: build, validate, convert, leakage, stats.

Exit status: 0 ok, 1 data problems (every one listed as ``file:line: field: problem``), 2 a bad command
line or a file that cannot be read or written at all (``error: file: problem``).
"""

from __future__ import annotations

import argparse
import sys

from ..cli_errors import cli_main
from . import build, convert, leakage, stats, validate
from .issues import DataError


@cli_main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m supportbot.data",
        description="Data tools for supportbot. build: authoring YAML -> train/dev/eval JSONL; validate: "
        "check JSONL files row by row; convert: CSV/ShareGPT/Alpaca/ticket threads -> messages JSONL; "
        "leakage: eval vs training n-gram overlap; stats: counts and token lengths, data card numbers.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (build, validate, convert, leakage, stats):
        module.add_parser(sub)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except DataError as exc:
        print(str(exc), file=sys.stderr)
        print(f"{len(exc.issues)} problem(s) found", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
