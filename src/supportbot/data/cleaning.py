"""Signature and PII stripping for imported support tickets; every change is returned for the report."""

from __future__ import annotations

import re
from dataclasses import dataclass

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
PHONE = re.compile(r"(?<![\w.])\+?\(?\d[\d\s().-]{6,}\d(?![\w])")
IP_ADDRESS = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
SIG_DELIMITER = re.compile(r"^\s*(--|—|__+)\s*$")
VALEDICTION = re.compile(
    r"^\s*(best|kind|warm|warmest)?\s*regards\b.*$|^\s*(cheers|sincerely|thanks|thank you|many thanks|best),?\s*$",
    re.IGNORECASE,
)
SENT_FROM = re.compile(r"^\s*(sent from my \w[\w ]*|get outlook for (ios|android))\s*$", re.IGNORECASE)
MAX_SIGNATURE_LINES = 5  # a valediction counts as a signature only if at most this many short lines follow


@dataclass(frozen=True)
class Change:
    action: str  # "email", "phone", "signature", "sent_from"
    detail: str


def _mask(text: str) -> str:
    """Enough of a replaced value to recognise it in the report without copying it."""
    if "@" in text:
        local, domain = text.split("@", 1)
        return f"{local[:1]}***@{domain}"
    digits = re.sub(r"\D", "", text)
    return f"***{digits[-2:]} ({len(digits)} digits)"


def strip_pii(text: str) -> tuple[str, list[Change]]:
    """Replace e-mail addresses with ``[email]`` and phone numbers with ``[phone]``.

    Numbers that look like IP addresses or ISO dates, numbers with fewer than 8 (10 without
    separators) or more than 15 digits are left alone.
    """
    changes: list[Change] = []

    def email(m: re.Match[str]) -> str:
        changes.append(Change("email", f"replaced {_mask(m.group())} with [email]"))
        return "[email]"

    def phone(m: re.Match[str]) -> str:
        s = m.group()
        digits = re.sub(r"\D", "", s)
        plain = s.isdigit()  # no separators: only long runs are phone numbers, not codes
        if not (10 if plain else 8) <= len(digits) <= 15 or IP_ADDRESS.match(s) or ISO_DATE.match(s):
            return s
        changes.append(Change("phone", f"replaced {_mask(s)} with [phone]"))
        return "[phone]"

    text = EMAIL.sub(email, text)
    text = PHONE.sub(phone, text)
    return text, changes


def strip_signature(text: str) -> tuple[str, list[Change]]:
    """Remove "Sent from my iPhone" lines, and everything from a ``--`` delimiter or a closing
    valediction ("Best regards, ...") followed by at most a few short lines."""
    changes: list[Change] = []
    lines = text.split("\n")
    kept = []
    for line in lines:
        if SENT_FROM.match(line):
            changes.append(Change("sent_from", f"removed line {line.strip()!r}"))
        else:
            kept.append(line)
    lines = kept
    for i, line in enumerate(lines):
        tail = [t for t in lines[i + 1:] if t.strip()]
        is_sig = SIG_DELIMITER.match(line) or (
            VALEDICTION.match(line) and len(tail) <= MAX_SIGNATURE_LINES and all(len(t) <= 60 for t in tail)
        )
        if is_sig and any(s.strip() for s in lines[:i]):
            removed = "\n".join(lines[i:]).strip()
            changes.append(Change("signature", f"removed signature {removed!r}"))
            lines = lines[:i]
            break
    return "\n".join(lines).strip(), changes


def clean_text(text: str) -> tuple[str, list[Change]]:
    """PII first (so the report of a removed signature holds no raw address), then signatures."""
    text, pii = strip_pii(text.replace("\r\n", "\n"))
    text, sig = strip_signature(text)
    return text, pii + sig
