"""argparse value types shared by the command-line tools: a bad value is a usage error (rc 2) naming the option."""

from __future__ import annotations

import argparse
import math

from .paths import PromptFileError, prompt_path


def _number(value: str, kind: type[int] | type[float], low: int, *, strict: bool = False) -> int | float:
    """``value`` as ``kind``, finite and >= ``low`` (> ``low`` when ``strict``), else a usage error saying so."""
    bound = f"{'>' if strict else '>='} {low}"
    try:
        x = kind(value)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {what} {bound}, got {value!r}") from None
    if not math.isfinite(x) or x < low or (strict and x == low):
        raise argparse.ArgumentTypeError(f"must be {bound}, got {x}")
    return x


def positive_int(value: str) -> int:
    """An integer >= 1 (token limits, concurrency, counts)."""
    return int(_number(value, int, 1))


def non_negative_int(value: str) -> int:
    """An integer >= 0 (retries)."""
    return int(_number(value, int, 0))


def positive_float(value: str) -> float:
    """A finite number > 0 (seconds to wait)."""
    return float(_number(value, float, 0, strict=True))


def non_negative_float(value: str) -> float:
    """A finite number >= 0 (sampling temperature)."""
    return float(_number(value, float, 0))


def share(value: str) -> float:
    """A share in [0, 1] (an overlap threshold: above 1 a check could never fail, below 0 never pass)."""
    x = float(_number(value, float, 0))
    if x > 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {x}")
    return x


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
