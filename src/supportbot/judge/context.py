"""One judge run's context: the client, the inputs it selects, the fitted thresholds, where records go."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supportbot.jsonl import write_jsonl
from supportbot.judge import metrics
from supportbot.judge.endpoint.client import JudgeClient
from supportbot.judge.endpoint.config import JudgeConfig
from supportbot.judge.inputs import RUBRIC_DIR, InputError, answers_path, load_eval_items, model_name
from supportbot.judge.results import finite, warn
from supportbot.records import EvalItem, answer_rows


@dataclass
class Run:
    """Everything one CLI invocation needs; filled by cli.py."""

    client: JudgeClient
    eval_path: Path
    baseline: str
    candidate: str
    out_dir: Path
    rubric_dir: Path = RUBRIC_DIR
    limit: int | None = None
    ids: list[str] | None = None
    seed: int = 0
    resamples: int = metrics.DEFAULT_RESAMPLES
    progress: bool = True
    injection_n: int = 10
    injection_attacks: list[str] | None = None  # attack kinds of prompts/judge_injection.txt (None: all)
    rubric_limit: int | None = None
    label_split: str = "test"  # checklist calibration: rows of label set v2 for this split (splits.py)
    _items: dict[str, EvalItem] | None = field(default=None, repr=False)

    @property
    def cfg(self) -> JudgeConfig:
        """The judge's settings (the config the client was built with)."""
        return self.client.cfg

    @property
    def judge(self) -> str:
        return self.cfg.name

    @property
    def judgments_dir(self) -> Path:
        return self.out_dir / "judgments"

    def items(self) -> dict[str, EvalItem]:
        if self._items is None:
            self._items = load_eval_items(self.eval_path)
        return self._items

    def selected(self, *answer_sets: dict[str, dict]) -> tuple[list[str], dict[str, list[str]]]:
        """Eval ids to judge (eval order), after --ids/--limit, and the ids each answer file lacks.

        Nothing to judge, or an id named in --ids without an answer, is an :class:`InputError` naming the
        answer files and the missing ids; with no --ids, ids some file lacks are skipped with a warning."""
        items = self.items()
        ids = list(items)
        if self.ids:
            unknown = [i for i in self.ids if i not in items]
            if unknown:
                raise InputError(f"--ids not in {self.eval_path}: {', '.join(unknown)}")
            ids = [i for i in ids if i in set(self.ids)]
        if self.limit is not None:
            ids = ids[: self.limit]
        missing = [(n, [i for i in ids if i not in ans]) for n, ans in zip(self.model_names(), answer_sets, strict=False)]
        keep = [i for i in ids if all(i in ans for ans in answer_sets)]
        what = "; ".join(f"{answers_path(m)} has no answer for {len(v)} of the {len(ids)} selected ids: {_some(v)}"
                         for m, (_, v) in zip((self.baseline, self.candidate), missing, strict=False) if v)
        if not keep or (what and self.ids):
            raise InputError(f"{'nothing to judge' if not keep else '--ids without an answer'}: {what or 'no ids'}")
        if what:
            warn(f"judging {len(keep)} of {len(ids)} selected ids: {what} (listed in the summary's missing_answers)")
        return keep, {k: v for k, v in missing if v}

    def model_names(self) -> list[str]:
        return [model_name(self.baseline), model_name(self.candidate)]

    def answers(self) -> tuple[dict[str, dict], dict[str, dict]]:
        return answer_rows(answers_path(self.baseline)), answer_rows(answers_path(self.candidate))

    @property
    def calibration_path(self) -> Path:
        """The calibration every judge shares, kept for the report and older readers (results/calibration.json)."""
        return self.out_dir / "calibration.json"

    @property
    def judge_calibration_path(self) -> Path:
        """This judge's own calibration (results/calibration/<judge>.json), read first."""
        return self.out_dir / "calibration" / f"{self.judge}.json"

    def calibration(self, calib: dict[str, Any] | None = None) -> dict[str, Any]:
        """``calib`` when given (the result `all` just computed, handed over in memory), else what `calibrate`
        wrote for this judge (results/calibration/<judge>.json, else results/calibration.json when it is this
        judge's), else {}."""
        if calib is not None:
            return calib
        for path in (self.judge_calibration_path, self.calibration_path):
            data = json.loads(path.read_text()) if path.is_file() else {}
            if data.get("judge") == self.judge:
                return data
        return {}

    def threshold(self, kind: str, calib: dict[str, Any] | None = None) -> float:
        """Logprob threshold (hallucination) or tie band (pairwise) fitted by `calibrate` (``calib``, else the
        calibration file), else the default."""
        default = 0.0 if kind == "pairwise" else 0.5
        if not self.cfg.uses_logprobs:
            return default
        fitted = (self.calibration(calib).get(kind) or {}).get("threshold")
        if fitted is not None:
            return float(fitted)
        warn(f"no fitted {kind} threshold for judge {self.judge!r} in {self.judge_calibration_path}: using {default} "
             "(run `calibrate` first)")
        return default

    def write_records(self, name: str, rows: list[dict[str, Any]]) -> Path:
        path = self.judgments_dir / f"{name}-{self.judge}.jsonl"
        write_jsonl(path, [finite(r) for r in rows])
        return path


def _some(ids: list[str], n: int = 10) -> str:
    """Up to ``n`` ids, comma-separated, and how many more."""
    return ", ".join(ids[:n]) + (f" and {len(ids) - n} more" if len(ids) > n else "")
