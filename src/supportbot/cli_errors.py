"""One way for a command-line tool to fail on bad input: ``error: <file>: <problem>`` on stderr, rc 2.

Every entry point runs its ``main`` through :func:`run_cli`. What a user can cause by what they type
or by the files they point at -- :class:`CliError`, an ``OSError`` (missing, unreadable, a folder,
read-only), a ``UnicodeError``, a ``ValueError`` from the project's validators (whose message
already names file, line and field), a ``RecursionError`` from absurdly nested input -- becomes one
line and exit code 2, never a traceback. Anything else is a bug and keeps its traceback. Set
``SUPPORTBOT_DEBUG=1`` to see the traceback of a handled error too.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

USAGE_RC = 2  # argparse's code for a bad command line; ours for bad input too


class CliError(Exception):
    """A problem the user can fix; the message names the file (and line, field) it concerns."""


def describe(exc: BaseException) -> str:
    """One line for a handled exception: ``file: problem``."""
    if isinstance(exc, OSError) and exc.filename is not None:
        reason = {IsADirectoryError: "is a folder, not a file", NotADirectoryError: "a parent is not a folder",
                  FileNotFoundError: "no such file or folder", PermissionError: "permission denied"}
        problem = reason.get(type(exc), exc.strerror or str(exc))
        return f"{exc.filename}: {problem}"
    if isinstance(exc, UnicodeDecodeError):
        return (f"input is not UTF-8 text: byte 0x{exc.object[exc.start]:02x} at offset {exc.start} "
                "(save the file as UTF-8)")
    if isinstance(exc, RecursionError):
        return "input is nested too deeply to read"
    return str(exc)


def read_text(path: str | Path) -> str:
    """A UTF-8 text file's contents; a non-UTF-8 byte raises :class:`CliError` naming file and offset."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise CliError(f"{path}:{line}: not UTF-8 text: byte 0x{data[exc.start]:02x} "
                       "(save the file as UTF-8)") from None


HANDLED: tuple[type[BaseException], ...] = (CliError, OSError, UnicodeError, ValueError, RecursionError)


def run_cli(main: Callable[[], int | None], *, prog: str | None = None) -> int:
    """Run ``main()``; a handled error prints ``error: <message>`` and returns 2, else main's code."""
    try:
        return main() or 0
    except HANDLED as exc:
        if os.environ.get("SUPPORTBOT_DEBUG"):
            raise
        prefix = f"{prog}: " if prog else ""
        print(f"{prefix}error: {describe(exc)}", file=sys.stderr)
        return USAGE_RC
