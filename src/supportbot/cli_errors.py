"""One way for a command-line tool to fail on bad input: ``error: <file>: <problem>`` on stderr, rc 2.

Every entry point runs its ``main`` through :func:`run_cli` (or is decorated with :func:`cli_main`).
What a user can cause by what they type or by the files and endpoints they point at --
:class:`CliError`, an ``OSError`` (missing, unreadable, a folder, read-only), a ``UnicodeError``, a
``ValueError`` from the project's validators (whose message already names file, line and field), a
``RecursionError`` from absurdly nested input, an ``openai`` API error (nothing answers at the URL,
a refused key, a rejected request) -- becomes one line and exit code 2, never a traceback. Anything
else is a bug and keeps its traceback. Set ``SUPPORTBOT_DEBUG=1`` to see the traceback of a handled
error too. :func:`read_bytes`, :func:`read_text` and :func:`check_writable` make file errors name
their file.
"""

from __future__ import annotations

import errno
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path

USAGE_RC = 2  # argparse's code for a bad command line; ours for bad input too


class CliError(Exception):
    """A problem the user can fix; the message names the file (and line, field) it concerns."""


def _describe_api_error(exc: BaseException) -> str:
    """An ``openai`` client error as ``<url>: problem``."""
    request = getattr(exc, "request", None)
    url = str(request.url) if request is not None else "the endpoint"
    status = getattr(exc, "status_code", None)
    if status is None:  # APIConnectionError, APITimeoutError: no HTTP answer at all
        cause = exc.__cause__ or exc.__context__
        why = f"{type(cause).__name__}: {cause}" if cause else str(exc)
        return f"{url}: no answer ({why}); is the server running, is the URL right?"
    body = getattr(exc, "body", None)  # the endpoint's own words ({"message": ...}), else the client's
    message = body.get("message") if isinstance(body, dict) and isinstance(body.get("message"), str) else None
    message = message or getattr(exc, "message", str(exc))
    if status in (401, 403):
        return (f"{url}: HTTP {status}, the endpoint refused the API key ({message}); set the key in the "
                "environment variable the tool reads it from")
    return f"{url}: HTTP {status}: {message}"


def describe(exc: BaseException) -> str:
    """One line for a handled exception: ``file: problem``."""
    if isinstance(exc, OSError) and exc.filename is not None:
        reason = {IsADirectoryError: "is a folder, not a file", NotADirectoryError: "a parent is not a folder",
                  FileNotFoundError: "no such file or folder", PermissionError: "permission denied"}
        problem = reason.get(type(exc), exc.strerror or str(exc))
        return f"{exc.filename}: {problem}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, UnicodeDecodeError):
        return (f"input is not UTF-8 text: byte 0x{exc.object[exc.start]:02x} at offset {exc.start} "
                "(save the file as UTF-8)")
    if isinstance(exc, RecursionError):
        return "input is nested too deeply to read"
    if isinstance(exc, _api_errors()):
        return _describe_api_error(exc)
    return str(exc)


def read_bytes(path: str | Path) -> bytes:
    """``Path(path).read_bytes()``, whose ``OSError`` always names the file (a failed read after a good
    open, e.g. EIO, does not by itself)."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        if exc.filename is None:
            exc.filename = str(path)
        raise


def read_text(path: str | Path, *, error: type[Exception] = CliError) -> str:
    """A UTF-8 text file's contents; a non-UTF-8 byte raises ``error`` (default :class:`CliError`) naming
    file, line and byte."""
    data = read_bytes(path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise error(f"{path}:{line}: not UTF-8 text: byte 0x{data[exc.start]:02x} "
                    "(save the file as UTF-8)") from None


def check_writable(*paths: str | Path | None) -> None:
    """Raise the ``OSError`` that writing each path would raise, before anything is written.

    A path that is a folder, whose nearest existing ancestor is not a folder, or that cannot be written
    (read-only file, folder or file system) fails; missing parent folders are fine (writers create them).
    ``None`` entries (optional outputs not asked for) are ignored.
    """
    for raw in paths:
        if raw is None:
            continue
        path = Path(raw)
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if path.exists():
            if not os.access(path, os.W_OK):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
            continue
        parent = path.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
        if not os.access(parent, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))


HANDLED: tuple[type[BaseException], ...] = (CliError, OSError, UnicodeError, ValueError, RecursionError)


def _api_errors() -> tuple[type[BaseException], ...]:
    """``openai.APIError`` when the client library is loaded (an error of it cannot occur otherwise)."""
    openai = sys.modules.get("openai")
    return (openai.APIError,) if openai is not None and hasattr(openai, "APIError") else ()


def run_cli(main: Callable[[], int | None], *, prog: str | None = None) -> int:
    """Run ``main()``; a handled error prints ``error: <message>`` and returns 2, else main's code."""
    try:
        return main() or 0
    except Exception as exc:
        if not isinstance(exc, HANDLED + _api_errors()) or os.environ.get("SUPPORTBOT_DEBUG"):
            raise
        prefix = f"{prog}: " if prog else ""
        print(f"{prefix}error: {describe(exc)}", file=sys.stderr)
        return USAGE_RC


def cli_main(main: Callable[[list[str] | None], int | None]) -> Callable[[list[str] | None], int]:
    """Decorator for an entry point ``main(argv=None)``: runs it through :func:`run_cli` (console scripts too)."""

    @functools.wraps(main)
    def wrapped(argv: list[str] | None = None) -> int:
        return run_cli(lambda: main(argv))

    return wrapped
