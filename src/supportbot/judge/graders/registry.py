"""The grader kinds by name: ``judge_mode`` in a judge config picks one. Adding a kind = a class that meets
``base.Grader`` and one line here (and its name in ``JudgeConfig.judge_mode``)."""

from __future__ import annotations

from supportbot.judge.endpoint.config import JudgeConfig
from supportbot.judge.graders.base import Grader
from supportbot.judge.graders.checklist import ChecklistGrader
from supportbot.judge.graders.holistic import HolisticGrader

GRADERS: dict[str, type[Grader]] = {g.kind: g for g in (HolisticGrader, ChecklistGrader)}


def grader_for(cfg: JudgeConfig) -> Grader:
    """The grader of a judge config (its ``judge_mode``)."""
    try:
        return GRADERS[cfg.judge_mode]()
    except KeyError:
        raise ValueError(f"judge {cfg.name!r}: unknown judge_mode {cfg.judge_mode!r} "
                         f"(known: {', '.join(GRADERS)})") from None
