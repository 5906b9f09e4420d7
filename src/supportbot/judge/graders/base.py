"""The grader interface: what a judge kind (``judge_mode`` in a judge config) must provide.

A grader turns eval items and answers into one record per judgment; the flow around it (selecting items,
reading answers, writing records, bootstrap statistics, the corrected rates) is ``supportbot.judge.evaluate``
and is the same for every kind. Kinds are looked up by name in ``registry.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pathlib import Path

    from supportbot.judge.context import Run
    from supportbot.judge.endpoint.client import JudgeClient
    from supportbot.records import EvalItem

Pair = tuple["EvalItem", str, str]  # (item, baseline answer, candidate answer)
Job = tuple["EvalItem", str, str]  # (item, model name, answer)
Record = dict[str, Any]


class Grader(Protocol):
    """One judge kind. ``calib`` is a calibration result (``calibrate``'s output) or None: read it from disk."""

    kind: str

    def pair_records(self, run: Run, pairs: list[Pair], calib: dict[str, Any] | None) -> tuple[list[Record], dict[str, Any]]:
        """One record per pair with ``id`` and ``winner`` (``x`` = baseline, ``y`` = candidate, ``tie``, or a
        failure label), and extra keys for the pairwise summary."""
        ...

    def answer_records(self, run: Run, jobs: list[Job], calib: dict[str, Any] | None) -> tuple[list[Record], dict[str, Any]]:
        """One record per answer with ``id``, ``model`` and ``verdict``, and extra keys for the summary."""
        ...

    def hallucinated(self, record: Record) -> bool | None:
        """Whether an answer record counts as hallucinated; None when it was not scored (a failure)."""
        ...

    def summarize_model(self, records: list[Record], *, seed: int, n_resamples: int) -> dict[str, Any]:
        """Hallucination rates of one model's answer records, with bootstrap CIs."""
        ...

    def difference(self, base: list[Record], cand: list[Record], *, seed: int, n_resamples: int) -> dict[str, Any]:
        """Baseline minus candidate hallucination rates, paired bootstrap CIs."""
        ...

    def calibrate(self, run: Run) -> dict[str, Any]:
        """Agreement with the labels and the values (thresholds, tie band, risk model) a main run applies;
        ``hallucination`` holds ``truth_binary``/``judge_binary`` for the Rogan-Gladen correction, and
        ``calibrated`` says per task whether kappa reaches the minimum."""
        ...

    def hallucination_kappa(self, calib: dict[str, Any]) -> float | None:
        """The binary hallucination kappa of a calibration result."""
        ...

    def agreement(self, client: JudgeClient, items: dict[str, EvalItem], rubric_dir: Path, split: str,
                  limit: int | None) -> dict[str, Any]:
        """Agreement with label set v2 on ``split`` (``judge/run.py agreement``), calibration values out-of-fold."""
        ...

    def main_run_calls(self, items: list[EvalItem]) -> int:
        """Judge calls a main run makes for both models' answers to ``items`` (no cache)."""
        ...

    def injection(self, run: Run) -> dict[str, Any]:
        """Verdict flip rates under prompt injection (``injection`` command)."""
        ...
