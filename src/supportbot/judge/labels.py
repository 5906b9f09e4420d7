"""The labels a judge record carries: verdicts, pair winners, and the two failures that stand in for a verdict.

:class:`Failure` is a ``StrEnum``: records hold its members, which compare equal to (and serialise as) the
plain strings ``"unparseable"`` and ``"error"`` that results files have always held.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, Final


class Failure(StrEnum):
    """Why a judgment has no verdict."""

    UNPARSEABLE = "unparseable"  # no valid verdict after one repair request (cached: a rerun gets the same)
    ERROR = "error"  # the request failed after every retry (not cached: a rerun asks again)


UNPARSEABLE: Final = Failure.UNPARSEABLE
ERROR: Final = Failure.ERROR

PAIRWISE_VERDICTS: Final = ("A", "B", "tie")  # one order of a pair: answer A, answer B, or a tie
DECISIVE_VERDICTS: Final = ("A", "B")
WINNERS: Final = ("x", "y", "tie")  # a pair over both orders: its first answer x, its second y, or a tie
HALLUCINATION_VERDICTS: Final = ("0", "1", "2", "not_attempted")  # none / minor / severe / declined
HALLUCINATED: Final = ("1", "2")
# the checklist judge's answer verdicts (src/supportbot/judge/graders/checklist.py)
CHECKLIST_HALLUCINATED: Final = "hallucinated"
CHECKLIST_CLEAN: Final = "clean"


def failure_counts(records: Iterable[Mapping[str, Any]], key: str = "verdict") -> dict[str, int]:
    """``{"n_unparseable": ..., "n_failed": ...}`` among ``records`` (``key``: "verdict", or "winner" for pairs)."""
    values = [r[key] for r in records]
    return {"n_unparseable": sum(v == UNPARSEABLE for v in values), "n_failed": sum(v == ERROR for v in values)}
