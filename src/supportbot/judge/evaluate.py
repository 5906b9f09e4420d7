"""The one flow of every command: items x answers -> the registry's grader -> records -> metrics -> result files.

Nothing here depends on the judge kind: the grader (graders/registry.py, by the config's ``judge_mode``)
makes the records; selection, record files, summaries and the Rogan-Gladen correction are shared.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from supportbot.judge import metrics
from supportbot.judge.context import Run
from supportbot.judge.graders import pairwise as pw
from supportbot.judge.graders.registry import grader_for
from supportbot.judge.results import write_json


def do_pairwise(run: Run, calib: dict[str, Any] | None = None) -> dict[str, Any]:
    """Candidate vs baseline on every selected item; ``calib``: the calibration to take the tie band from
    (default: the calibration file)."""
    base, cand = run.answers()
    ids, missing = run.selected(base, cand)
    items = run.items()
    bname, cname = run.model_names()
    records, extra = grader_for(run.cfg).pair_records(run, [(items[i], base[i]["answer"], cand[i]["answer"]) for i in ids],
                                                      calib)
    for r in records:
        r.update(baseline=bname, candidate=cname, x=bname, y=cname,
                 winner_model={"x": bname, "y": cname}.get(r["winner"], r["winner"]))
    path = run.write_records("pairwise", records)
    summary = pw.summarize(records, bname, cname, base, cand, seed=run.seed, n_resamples=run.resamples)
    summary.update(missing_answers=missing, records=str(path), **extra)
    return summary


def do_hallucination(run: Run, calib: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Every selected answer of both models; ``calib``: the calibration to take the threshold (or risk model)
    from (default: the calibration file)."""
    grader = grader_for(run.cfg)
    base, cand = run.answers()
    ids, missing = run.selected(base, cand)
    items = run.items()
    names = run.model_names()
    jobs = [(items[i], name, ans[i]["answer"]) for i in ids for name, ans in zip(names, (base, cand), strict=True)]
    records, extra = grader.answer_records(run, jobs, calib)
    path = run.write_records("hallucination", records)
    by_model = {n: [r for r in records if r["model"] == n] for n in names}
    summary = {"models": {n: grader.summarize_model(rs, seed=run.seed, n_resamples=run.resamples)
                          for n, rs in by_model.items()},
               "difference_base_minus_tuned": grader.difference(by_model[names[0]], by_model[names[1]], seed=run.seed,
                                                                n_resamples=run.resamples),
               "baseline": names[0], "candidate": names[1], "missing_answers": missing, "records": str(path), **extra}
    return summary, records


def do_calibrate(run: Run) -> dict[str, Any]:
    return grader_for(run.cfg).calibrate(run)


def do_injection(run: Run) -> dict[str, Any]:
    return grader_for(run.cfg).injection(run)


def corrected_rates(run: Run, hsum: dict[str, Any], hrecords: list[dict[str, Any]], calib: dict[str, Any]) -> dict[str, Any]:
    """Rogan–Gladen-corrected hallucination rate per model, Se/Sp from the calibration's labelled rows."""
    grader = grader_for(run.cfg)
    observed = {name: [v for r in hrecords if r["model"] == name and (v := grader.hallucinated(r)) is not None]
                for name in hsum["models"]}
    return metrics.corrected_rates(observed, calib.get("hallucination"), seed=run.seed, resamples=run.resamples)


def write_calibration(run: Run, calib: dict[str, Any]) -> None:
    """This judge's calibration file (results/calibration/<judge>.json) and the shared results/calibration.json
    (the last judge calibrated; the report reads it)."""
    write_json(run.judge_calibration_path, calib)
    write_json(run.calibration_path, calib)


def do_all(run: Run) -> tuple[dict[str, Any], dict[str, Any]]:
    """Calibrate (written to the calibration files), then pairwise and hallucination with the fitted values."""
    t0 = time.perf_counter()
    calib = do_calibrate(run)
    write_calibration(run, calib)
    pair = do_pairwise(run, calib)
    hsum, hrecs = do_hallucination(run, calib)
    hsum["corrected_overall_rate"] = corrected_rates(run, hsum, hrecs, calib)
    calibrated = calib["calibrated"]
    cfg = run.cfg
    summary = {"judge": run.judge, "model": cfg.model, "verdict_mode": cfg.verdict_mode, "judge_mode": cfg.judge_mode,
               "status": "calibrated" if all(calibrated.values()) else "uncalibrated", "calibrated": calibrated,
               "calibration_kappa": {"hallucination_binary": grader_for(cfg).hallucination_kappa(calib),
                                     "pairwise": (calib["pairwise"] or {}).get("kappa")},
               "pairwise": pair, "hallucination": hsum, "wall_s": round(time.perf_counter() - t0, 1)}
    summary["reference_check"] = reference_check_beside(run.out_dir)
    return summary, calib


def reference_check_beside(out_dir: Path) -> dict[str, Any] | None:
    """The judge-free reference check (``judge/run.py reference run``), when it has been run, with its age."""
    path = out_dir / "reference_check.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return {"file": str(path), "modified": round(path.stat().st_mtime, 1),
            "note": "judge-free check (sentence embeddings); see src/supportbot/judge/reference/check.py", "results": data}
