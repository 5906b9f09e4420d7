"""argparse value types shared by the command-line tools: a bad value is a usage error (rc 2) naming the option."""

from __future__ import annotations

import argparse

from .paths import PromptFileError, prompt_path


def positive_int(value: str) -> int:
    """An integer >= 1 (token limits, concurrency, counts)."""
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {n}")
    return n


def fraction(value: str) -> float:
    """A share in [0, 1) (e.g. the dev split's fraction)."""
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {value!r}") from None
    if not 0 <= x < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1) (e.g. 0.1 for 10%), got {value}")
    return x


def prompt_name(value: str) -> str:
    """A prompt file name under prompts/ (no folders, no ``..``; the file must exist)."""
    try:
        prompt_path(value)
    except PromptFileError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def utf8_text(value: str) -> str:
    """Command-line text that is valid UTF-8 (bytes that are not arrive as lone surrogates and are refused)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(value[exc.start])
        what = f"byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"character U+{code:04X}"
        raise argparse.ArgumentTypeError(f"not UTF-8 text: {what} at character {exc.start + 1} "
                                         "(set the terminal to UTF-8)") from None
    return value
