"""Hallucination grading of each model's answers: 0 / 1 / 2 / not_attempted, with offending claims.

``not_attempted`` (declined or escalated without stating facts, as in SimpleQA) keeps "refuse
everything" from looking like zero hallucination: the attempted rate is reported beside the rates.
On unanswerable items (``answerable: false``) escalating is correct and any invented answer is a
hallucination; the correct-escalation rate on them is reported separately.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from supportbot.judge import metrics as stats
from supportbot.judge.endpoint.client import JudgeClient
from supportbot.judge.graders.prompting import hallucination_messages
from supportbot.judge.graders.verdicts import apply_threshold, ask
from supportbot.judge.labels import HALLUCINATED, HALLUCINATION_VERDICTS, failure_counts
from supportbot.records import EvalItem

SCORED = HALLUCINATION_VERDICTS


def is_hallucinated(verdict: str) -> bool:
    return verdict in HALLUCINATED


def judge_answers(client: JudgeClient, jobs: list[tuple[EvalItem, str, str]], *, threshold: float = 0.5,
                  desc: str = "hallucination", progress: bool = True) -> list[dict[str, Any]]:
    """Grade ``(item, model, answer)`` triples; one record each."""
    cfg = client.cfg

    def one(job: tuple[EvalItem, str, str]) -> dict[str, Any]:
        item, model, answer = job
        msgs = hallucination_messages(cfg, item, answer, logprobs=cfg.uses_logprobs)
        rec = apply_threshold(ask(client, msgs, "hallucination", {"id": str(item.id), "model": model}),
                              "hallucination", threshold)
        return {"id": str(item.id), "model": model, "answerable": item.answerable, **rec}

    return client.map(one, jobs, desc=desc, progress=progress)


def rethreshold(records: list[dict[str, Any]], threshold: float) -> list[dict[str, Any]]:
    return [apply_threshold(r, "hallucination", threshold) for r in records]


def _rate(values: list[bool] | np.ndarray, seed: int, n_resamples: int) -> dict[str, Any]:
    return stats.bootstrap_ci(np.asarray(values, float), n_resamples=n_resamples, seed=seed)


def summarize_model(records: list[dict[str, Any]], *, seed: int = 0, n_resamples: int = stats.DEFAULT_RESAMPLES) -> dict[str, Any]:
    ok = [r for r in records if r["verdict"] in SCORED]
    v = [r["verdict"] for r in ok]
    attempted = [x != "not_attempted" for x in v]
    halluc = [is_hallucinated(x) for x in v]
    unans = [r for r in ok if not r.get("answerable", True)]
    return {
        "n": len(records), "n_scored": len(ok),
        **failure_counts(records),
        "label_counts": {k: v.count(k) for k in SCORED},
        "attempted_rate": _rate(attempted, seed, n_resamples),
        "hallucination_rate_attempted": _rate([h for h, a in zip(halluc, attempted, strict=True) if a], seed, n_resamples),
        "hallucination_rate_overall": _rate(halluc, seed, n_resamples),
        "severe_rate": _rate([x == "2" for x in v], seed, n_resamples),
        "unanswerable": {"n": len(unans),
                         "correct_escalation_rate": (float(np.mean([r["verdict"] == "not_attempted" for r in unans]))
                                                     if unans else None)},
    }


def paired_difference(base: list[dict[str, Any]], tuned: list[dict[str, Any]], *, seed: int = 0,
                      n_resamples: int = stats.DEFAULT_RESAMPLES) -> dict[str, Any]:
    """base − tuned on the items both have scored, with a paired bootstrap CI (overall and among attempted)."""
    b = {r["id"]: r["verdict"] for r in base if r["verdict"] in SCORED}
    t = {r["id"]: r["verdict"] for r in tuned if r["verdict"] in SCORED}
    ids = sorted(set(b) & set(t))
    hb = [is_hallucinated(b[i]) for i in ids]
    ht = [is_hallucinated(t[i]) for i in ids]
    return {
        "n_paired": len(ids),
        "overall": stats.paired_bootstrap_diff(hb, ht, seed=seed, n_resamples=n_resamples),
        "attempted": stats.paired_bootstrap_diff(hb, ht, seed=seed, n_resamples=n_resamples,
                                                 mask_a=[b[i] != "not_attempted" for i in ids],
                                                 mask_b=[t[i] != "not_attempted" for i in ids]),
        "severe": stats.paired_bootstrap_diff([b[i] == "2" for i in ids], [t[i] == "2" for i in ids],
                                              seed=seed, n_resamples=n_resamples),
    }
