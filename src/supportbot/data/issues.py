"""`file:line: field: problem` issues, and turning pydantic errors into them."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

ROW = "row"  # field name for problems that concern the whole row


@dataclass(frozen=True)
class Issue:
    file: str
    line: int
    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.problem}"


class DataError(Exception):
    """One or more data problems; ``str()`` lists them one per line."""

    def __init__(self, issues: list[Issue] | list[str]):
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


def loc_to_field(loc: tuple[int | str, ...]) -> str:
    """``('messages', 2, 'content')`` -> ``messages[2].content``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or ROW


def pydantic_problems(exc: ValidationError) -> list[tuple[tuple[int | str, ...], str]]:
    """Flatten a ValidationError into ``(loc, problem)`` pairs with readable wording."""
    out: list[tuple[tuple[int | str, ...], str]] = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        etype = err["type"]
        if etype == "conversation":
            for field, problem in err["ctx"]["problems"]:
                out.append((_field_to_loc(field), problem))
            continue
        if etype == "missing":
            problem = "missing"
        elif etype == "extra_forbidden":
            problem = "unknown key"
        elif etype == "literal_error":
            problem = f"unknown value {err['input']!r} ({err['msg'].lower()})"
        elif etype.endswith("_type"):
            problem = f"wrong type: {err['msg'].lower()}, got {type(err['input']).__name__}"
        else:
            problem = err["msg"]
        out.append((loc, problem))
    return out


def _field_to_loc(field: str) -> tuple[int | str, ...]:
    loc: list[int | str] = []
    for part in field.replace("]", "").replace("[", ".").split("."):
        if part:
            loc.append(int(part) if part.isdigit() else part)
    return tuple(loc)
