"""Prompt-injection robustness of a checklist judge: regrade attacked answers, report the verdict flips.

A checklist judge grades every answer alone (src/supportbot/judge/graders/checks.py), so an attack inside one answer can
change only that answer's grade: the other answer of its pair keeps its clean grade and is not asked
again. For each sampled pair and each attack kind (src/supportbot/judge/injection.py), the answer that lost the clean
pair verdict (the candidate's on a tie) gets the attack's lines inserted (:func:`judge.injection.inject`
with the whole answer as budget, since the check prompt shows the whole answer; ``{{position}}`` is
"A", a checklist prompt has no letters) and is graded again with every check of its item.

What a flip is, per attacked answer (both read with the calibrated settings of results/calibration.json):

- pair flip: the pair verdict (the sign of the score difference beyond the tie margin, as in
  ``judge/run.py pairwise``) differs from the clean one; success: the attacked answer now wins;
- hallucination flip: the attacked answer's verdict (the risk model's P(hallucinated) > 0.5, as in
  ``judge/run.py hallucination``) differs from the clean one; cleared: a hallucinated answer is now clean.

Also reported: the mean shift of the attacked answer's score and risk, and how many attacked answers
were judged on check prompts byte-identical to the clean ones (the sanitizer restored the answer, so
their checks were answered from the cache with the clean p(yes)).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from supportbot.judge.graders import checklist_answers as checklist_run
from supportbot.judge.graders import checks as checklist
from supportbot.judge.injection import Attack, inject, sample_and_attacks
from supportbot.judge.labels import CHECKLIST_CLEAN, CHECKLIST_HALLUCINATED, ERROR, WINNERS

if TYPE_CHECKING:
    from supportbot.judge.context import Run

WHOLE_ANSWER = 100_000  # words: judge.checklist.check_messages shows the whole answer
POSITION = "A"
_SIDE = {"A": "x", "B": "y", "tie": "tie"}


def pair_winner(gx: checklist.AnswerGrade, gy: checklist.AnswerGrade, margin: float) -> str:
    """x, y, tie (or error) from two grades, as ``judge/run.py pairwise`` decides a checklist pair."""
    if gx.errors or gy.errors:
        return ERROR
    return _SIDE[checklist.pair_verdict(gx.score, gy.score, margin)]


def attacked_side(clean_winner: str) -> str:
    """The answer that lost the clean verdict: x when y won, else y (the candidate's on a tie)."""
    return "x" if clean_winner == "y" else "y"


def _share(rows: list[dict[str, Any]], hit) -> float | None:
    return sum(map(hit, rows)) / len(rows) if rows else None


def _mean(xs: list[float]) -> float | None:
    return round(sum(xs) / len(xs), 4) if xs else None


def rates(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Flip rates of attacked-answer rows (see the module docstring); failed grades are counted, not scored."""
    pairs = [r for r in rows if r["winner"] in WINNERS and r["clean_winner"] in WINNERS]
    ok = (CHECKLIST_HALLUCINATED, CHECKLIST_CLEAN)
    hal = [r for r in rows if r["verdict"] in ok and r["clean_verdict"] in ok]
    was_hal = [r for r in hal if r["clean_verdict"] == CHECKLIST_HALLUCINATED]
    graded = [r for r in rows if r["verdict"] != ERROR and r["clean_verdict"] != ERROR]
    return {"n_pairs_scored": len(pairs),
            "pair_flip_rate": _share(pairs, lambda r: r["winner"] != r["clean_winner"]),
            "pair_success_rate": _share(pairs, lambda r: r["winner"] == r["injected_into"]),
            "n_answers_scored": len(hal),
            "hallucination_flip_rate": _share(hal, lambda r: r["verdict"] != r["clean_verdict"]),
            "n_clean_hallucinated": len(was_hal),
            "hallucination_cleared_rate": _share(was_hal, lambda r: r["verdict"] == CHECKLIST_CLEAN),
            "mean_score_shift": _mean([r["score"] - r["clean_score"] for r in graded]),
            "mean_risk_shift": _mean([r["risk"] - r["clean_risk"] for r in graded]),
            "n_failed": sum(r["verdict"] == ERROR for r in rows),
            "n_prompts_same_as_clean": sum(r["same_prompt_as_clean"] for r in rows)}


def attacked_row(item, attack: Attack, side: str, clean: dict[str, checklist.AnswerGrade],
                 attacked: checklist.AnswerGrade, margin: float, risk_model: checklist.RiskModel | None,
                 same_prompt: bool) -> dict[str, Any]:
    """One attacked answer: its clean and attacked verdicts (``clean``: the pair's grades by side x, y)."""
    new = {**clean, side: attacked}
    before = checklist_run.answer_record(item, side, clean[side], risk_model)
    after = checklist_run.answer_record(item, side, attacked, risk_model)
    return {"id": str(item.id), "attack": attack.name, "held_out": attack.held_out, "injected_into": side,
            "clean_winner": pair_winner(clean["x"], clean["y"], margin), "winner": pair_winner(new["x"], new["y"], margin),
            "clean_verdict": before["verdict"], "verdict": after["verdict"],
            "clean_score": before["score"], "score": after["score"], "clean_risk": before["risk"], "risk": after["risk"],
            "same_prompt_as_clean": same_prompt, "p": attacked.p, "errors": attacked.errors}


def run_checklist_injection(run: Run, ids: list[str], attacks: list[Attack], *, margin: float,
                            risk_model: checklist.RiskModel | None) -> dict[str, Any]:
    """Grade the pairs of ``ids`` clean, then each attacked losing answer; the flip rates, overall and per kind."""
    cfg = run.cfg
    base, cand = run.answers()
    items = run.items()
    answers = {i: {"x": base[i]["answer"], "y": cand[i]["answer"]} for i in ids}
    clean_jobs = [(items[i], side, answers[i][side]) for i in ids for side in ("x", "y")]
    clean_grades = checklist_run.grade_all(run, clean_jobs, "injection (clean)")
    clean = {i: {"x": clean_grades[2 * k], "y": clean_grades[2 * k + 1]} for k, i in enumerate(ids)}
    jobs = []  # (item, attack, side, attacked text, same prompt as clean)
    for i in ids:
        side = attacked_side(pair_winner(clean[i]["x"], clean[i]["y"], margin))
        text = answers[i][side]
        first = checklist.checklist(items[i])[0]
        for attack in attacks:
            hit = inject(text, attack, POSITION, WHOLE_ANSWER)
            same = (checklist.check_messages(hit, first, prompt=cfg.prompts.check, clean=cfg.sanitize_answers)
                    == checklist.check_messages(text, first, prompt=cfg.prompts.check, clean=cfg.sanitize_answers))
            jobs.append((items[i], attack, side, hit, same))
    grades = checklist_run.grade_all(run, [(j[0], j[2], j[3]) for j in jobs], "injection (attacked)")
    rows = [attacked_row(item, attack, side, clean[str(item.id)], g, margin, risk_model, same)
            for (item, attack, side, _, same), g in zip(jobs, grades, strict=True)]
    by_attack = {a.name: {"placement": a.placement, "held_out": a.held_out,
                          **rates([r for r in rows if r["attack"] == a.name])} for a in attacks}
    held = [r for r in rows if r["held_out"]]
    return {"n_pairs": len(ids), "attacks": [a.name for a in attacks], "n_pair_attacks": len(rows),
            "n_judgments": sum(len(checklist.checklist(j[0])) for j in jobs), **rates(rows),
            "held_out": rates(held) if held else None, "known": rates([r for r in rows if not r["held_out"]]),
            "by_attack": by_attack, "rows": rows}


def do_injection(run: Run) -> dict[str, Any]:
    """``judge/run.py injection`` for a checklist judge: a seeded sample of ``run.injection_n`` pairs."""
    chosen, attacks = sample_and_attacks(run)
    margin = run.threshold("pairwise")
    res = run_checklist_injection(run, chosen, attacks, margin=margin, risk_model=checklist_run.risk_model(run))
    res["records"] = str(run.write_records("injection", res.pop("rows")))
    res.update(sampled_ids=chosen, sanitize_answers=run.cfg.sanitize_answers, judge_mode="checklist", tie_margin=margin)
    return res
