"""The subcommands' work: select items, judge, compute statistics, write results files."""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from judge import calibrate as cal
from judge import checklist_run, stats
from judge import hallucination as hal
from judge import pairwise as pw
from judge.client import JudgeClient
from judge.config import JudgeConfig
from judge.injection import load_attacks, run_injection, sample_ids
from judge.inputs import (
    RUBRIC_DIR,
    EvalItem,
    InputError,
    answers_path,
    load_answers,
    load_eval_items,
    load_hallucination_rubric,
    load_pairwise_rubric,
    model_name,
)
from supportbot.jsonl import write_jsonl


@dataclass
class Run:
    """Everything one CLI invocation needs; filled by run.py."""

    client: JudgeClient
    eval_path: Path
    baseline: str
    candidate: str
    out_dir: Path
    rubric_dir: Path = RUBRIC_DIR
    limit: int | None = None
    ids: list[str] | None = None
    seed: int = 0
    resamples: int = stats.DEFAULT_RESAMPLES
    progress: bool = True
    injection_n: int = 10
    injection_attacks: list[str] | None = None  # attack kinds of prompts/judge_injection.txt (None: all)
    rubric_limit: int | None = None
    label_split: str = "test"  # checklist calibration: rows of label set v2 for this split (judge/splits.py)
    _items: dict[str, EvalItem] | None = field(default=None, repr=False)

    # ---------------------------------------------------------------- inputs
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
        return load_answers(answers_path(self.baseline)), load_answers(answers_path(self.candidate))

    @property
    def calibration_path(self) -> Path:
        return self.out_dir / "calibration.json"

    def calibration(self, calib: dict[str, Any] | None = None) -> dict[str, Any]:
        """``calib`` when given (the result `all` just computed, handed over in memory), else what `calibrate`
        wrote for this judge (results/calibration.json), or {} when it is another judge's."""
        if calib is not None:
            return calib
        path = self.calibration_path
        data = json.loads(path.read_text()) if path.is_file() else {}
        return data if data.get("judge") == self.judge else {}

    def threshold(self, kind: str, calib: dict[str, Any] | None = None) -> float:
        """Logprob threshold (hallucination) or tie band (pairwise) fitted by `calibrate` (``calib``, else the
        calibration file), else the default."""
        default = 0.0 if kind == "pairwise" else 0.5
        if not self.cfg.uses_logprobs:
            return default
        fitted = (self.calibration(calib).get(kind) or {}).get("threshold")
        if fitted is not None:
            return float(fitted)
        warn(f"no fitted {kind} threshold for judge {self.judge!r} in {self.calibration_path}: using {default} "
             "(run `calibrate` first)")
        return default

    def write_records(self, name: str, rows: list[dict[str, Any]]) -> Path:
        path = self.judgments_dir / f"{name}-{self.judge}.jsonl"
        write_jsonl(path, [finite(r) for r in rows])
        return path


def _some(ids: list[str], n: int = 10) -> str:
    """Up to ``n`` ids, comma-separated, and how many more."""
    return ", ".join(ids[:n]) + (f" and {len(ids) - n} more" if len(ids) > n else "")


def warn(msg: str) -> None:
    print(f"WARNING: {msg}", file=sys.stderr, flush=True)


def loud_warning(lines: list[str]) -> None:
    bar = "!" * 78
    print("\n".join([bar, *[f"!!! {x}" for x in lines], bar]), file=sys.stderr, flush=True)


def finite(x: Any) -> Any:
    """``x`` with NaN/inf floats (e.g. a rate over zero answers) replaced by None, so the JSON is standard."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [finite(v) for v in x]
    return x


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(finite(data), indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    tmp.replace(path)


# ------------------------------------------------------------------ subcommands
def checklist_mode(run: Run) -> bool:
    return run.cfg.is_checklist


def do_pairwise(run: Run, calib: dict[str, Any] | None = None) -> dict[str, Any]:
    """``calib``: the calibration result to take the tie band from (default: the calibration file)."""
    if checklist_mode(run):
        return checklist_run.do_pairwise(run, calib)
    base, cand = run.answers()
    ids, missing = run.selected(base, cand)
    items = run.items()
    pairs = [(items[i], base[i]["answer"], cand[i]["answer"]) for i in ids]
    records = pw.judge_pairs(run.client, pairs, tie_band=run.threshold("pairwise", calib), progress=run.progress)
    bname, cname = run.model_names()
    for r in records:
        r.update(baseline=bname, candidate=cname, x=bname, y=cname,
                 winner_model={"x": bname, "y": cname}.get(r["winner"], r["winner"]))
    path = run.write_records("pairwise", records)
    summary = pw.summarize(records, bname, cname, base, cand, seed=run.seed, n_resamples=run.resamples)
    summary.update(missing_answers=missing, records=str(path))
    return summary


def do_hallucination(run: Run, calib: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``calib``: the calibration result to take the threshold from (default: the calibration file)."""
    if checklist_mode(run):
        return checklist_run.do_hallucination(run, calib)
    base, cand = run.answers()
    ids, missing = run.selected(base, cand)
    items = run.items()
    names = run.model_names()
    # both models' answers to one question back to back: the judge server's prefix cache reuses the shared
    # system prompt + question + references (vLLM: ~5 s -> ~1 s per call on the CPU default)
    jobs = [(items[i], name, ans[i]["answer"]) for i in ids for name, ans in zip(names, (base, cand), strict=True)]
    records = hal.judge_answers(run.client, jobs, threshold=run.threshold("hallucination", calib), progress=run.progress)
    path = run.write_records("hallucination", records)
    by_model = {n: [r for r in records if r["model"] == n] for n in names}
    summary = {"models": {n: hal.summarize_model(rs, seed=run.seed, n_resamples=run.resamples) for n, rs in by_model.items()},
               "difference_base_minus_tuned": hal.paired_difference(by_model[names[0]], by_model[names[1]],
                                                                    seed=run.seed, n_resamples=run.resamples),
               "baseline": names[0], "candidate": names[1], "missing_answers": missing, "records": str(path)}
    return summary, records


def do_calibrate(run: Run) -> dict[str, Any]:
    if checklist_mode(run):
        return checklist_run.do_calibrate(run)
    items = run.items()
    out: dict[str, Any] = {"judge": run.judge, "model": run.cfg.model, "verdict_mode": run.cfg.verdict_mode,
                           "kappa_min": cal.KAPPA_MIN, "threshold_note": ("logprobs mode: the hallucination threshold and the pairwise tie band are "
                                              "fitted in-sample on this rubric set (optimistic agreement)")}
    for kind, loader, fn in (("hallucination", load_hallucination_rubric, cal.calibrate_hallucination),
                             ("pairwise", load_pairwise_rubric, cal.calibrate_pairwise)):
        path = run.rubric_dir / f"{kind}.jsonl"
        if not path.is_file():
            out[kind] = None
            warn(f"{path} not found: the {kind} judge cannot be calibrated (see judge/RUBRIC.md)")
            continue
        rubric = loader(path)[: run.rubric_limit]
        metrics, records = fn(run.client, items, rubric, progress=run.progress)
        metrics["records"] = str(run.write_records(f"calibration-{kind}", records))
        out[kind] = metrics
    out["calibrated"] = {"hallucination": cal.is_calibrated(out["hallucination"], ("binary", "kappa")),
                         "pairwise": cal.is_calibrated(out["pairwise"], ("kappa",))}
    return out


def do_injection(run: Run) -> dict[str, Any]:
    if checklist_mode(run):
        raise InputError(f"injection measures the pairwise prompt of a holistic judge; {run.judge!r} is a checklist "
                         "judge (use e.g. --judge local-qwen0.5b, or scripts/measure_injection.py)")
    base, cand = run.answers()
    ids, _ = run.selected(base, cand)
    chosen = sample_ids(ids, run.injection_n, run.seed)
    try:
        attacks = load_attacks(run.injection_attacks)
    except ValueError as exc:
        raise InputError(f"--attacks: {exc}") from None
    items = run.items()
    thr = run.threshold("pairwise")
    clean = pw.judge_pairs(run.client, [(items[i], base[i]["answer"], cand[i]["answer"]) for i in chosen],
                           tie_band=thr, desc="injection (clean)", progress=run.progress)
    res = run_injection(run.client, clean, items, base, cand, attacks=attacks, tie_band=thr, progress=run.progress)
    res["records"] = str(run.write_records("injection", res.pop("rows")))
    res["sampled_ids"] = chosen
    res["sanitize_answers"] = run.cfg.sanitize_answers
    return res


def corrected_rates(hsum: dict[str, Any], hrecords: list[dict[str, Any]], calib: dict[str, Any], *, seed: int,
                    resamples: int) -> dict[str, Any]:
    """Rogan–Gladen-corrected overall hallucination rate per model (needs the hallucination rubric)."""
    h = calib.get("hallucination")
    out = {}
    for name in hsum["models"]:
        obs = [hal.is_hallucinated(r["verdict"]) for r in hrecords if r["model"] == name and r["verdict"] in hal.SCORED]
        out[name] = (stats.rogan_gladen_ci(obs, h["truth_binary"], h["judge_binary"], seed=seed, n_resamples=resamples)
                     if h else {"estimate": None, "note": "no hallucination rubric set: no correction possible"})
    return out


def do_all(run: Run) -> tuple[dict[str, Any], dict[str, Any]]:
    """Calibrate (written to the calibration file), then pairwise and hallucination with the fitted thresholds."""
    t0 = time.perf_counter()
    calib = do_calibrate(run)
    write_json(run.calibration_path, calib)
    pair = do_pairwise(run, calib)
    hsum, hrecs = do_hallucination(run, calib)
    hsum["corrected_overall_rate"] = (checklist_run.corrected_rates(hrecs, calib, seed=run.seed, resamples=run.resamples)
                                      if checklist_mode(run) else
                                      corrected_rates(hsum, hrecs, calib, seed=run.seed, resamples=run.resamples))
    calibrated = calib["calibrated"]
    cfg = run.cfg
    summary = {"judge": run.judge, "model": cfg.model, "verdict_mode": cfg.verdict_mode, "judge_mode": cfg.judge_mode,
               "status": "calibrated" if all(calibrated.values()) else "uncalibrated", "calibrated": calibrated,
               "calibration_kappa": {"hallucination_binary": (calib["hallucination"] or {}).get("kappa") if checklist_mode(run)
                                     else (calib["hallucination"] or {}).get("binary", {}).get("kappa"),
                                     "pairwise": (calib["pairwise"] or {}).get("kappa")},
               "pairwise": pair, "hallucination": hsum, "wall_s": round(time.perf_counter() - t0, 1)}
    summary["reference_check"] = reference_check_beside(run.out_dir)
    return summary, calib


def reference_check_beside(out_dir: Path) -> dict[str, Any] | None:
    """The judge-free reference check (judge/reference_check.py run), when it has been run, with its age."""
    path = out_dir / "reference_check.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return {"file": str(path), "modified": round(path.stat().st_mtime, 1),
            "note": "judge-free check (sentence embeddings); see judge/reference_check.py", "results": data}
