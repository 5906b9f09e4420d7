"""Pairwise comparison of a candidate model against a baseline, every pair judged in both orders.

Per item the candidate scores 1 (win), 0.5 (tie, including order-inconsistent verdicts) or 0
(loss). Reported: W/T/L, win rate (W + T/2)/N with a seeded bootstrap CI, position consistency,
the length-controlled win rate, average answer lengths, and unparseable/failed items (excluded
from N, counted).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from supportbot.judge import metrics as stats
from supportbot.judge.endpoint.client import JudgeClient
from supportbot.judge.graders.prompting import pairwise_messages
from supportbot.judge.graders.verdicts import apply_threshold, ask, combine_orders
from supportbot.judge.labels import DECISIVE_VERDICTS, WINNERS, failure_counts
from supportbot.records import EvalItem


def n_words(text: str) -> int:
    return len(text.split())


def judge_pairs(client: JudgeClient, pairs: list[tuple[EvalItem, str, str]], *, tie_band: float = 0.0,
                desc: str = "pairwise", progress: bool = True) -> list[dict[str, Any]]:
    """Judge ``(item, x, y)`` as (A=x, B=y) and (A=y, B=x); one record per pair with both orders.

    ``tie_band`` only matters for logprob verdicts (see :func:`judge.verdicts.combine_orders`).
    """
    cfg = client.cfg
    jobs = []
    for item, x, y in pairs:
        jobs.append((item, x, y, "xy"))
        jobs.append((item, y, x, "yx"))

    def one(job: tuple[EvalItem, str, str, str]) -> dict[str, Any]:
        item, a, b, order = job
        msgs = pairwise_messages(cfg, item, a, b, logprobs=cfg.uses_logprobs)
        return apply_threshold(ask(client, msgs, "pairwise", {"id": str(item.id), "order": order}), "pairwise")

    recs = client.map(one, jobs, desc=desc, progress=progress)
    out = []
    for i, (item, _, _) in enumerate(pairs):
        first, second = recs[2 * i], recs[2 * i + 1]
        out.append({"id": str(item.id), "order_xy": first, "order_yx": second, **combine_orders(first, second, tie_band)})
    return out


def rethreshold(records: list[dict[str, Any]], tie_band: float) -> list[dict[str, Any]]:
    """Re-derive pair verdicts of logprobs records with another tie band (no judge calls)."""
    return [{**r, **combine_orders(r["order_xy"], r["order_yx"], tie_band)} for r in records]


def summarize(records: list[dict[str, Any]], base_name: str, cand_name: str,
              base_answers: dict[str, dict], cand_answers: dict[str, dict], *, seed: int = 0,
              n_resamples: int = stats.DEFAULT_RESAMPLES) -> dict[str, Any]:
    """Statistics for records whose pair is (x = baseline, y = candidate)."""
    ok = [r for r in records if r["winner"] in WINNERS]
    score = np.array([{"y": 1.0, "tie": 0.5, "x": 0.0}[r["winner"]] for r in ok])
    wins, ties, losses = int((score == 1).sum()), int((score == 0.5).sum()), int((score == 0).sum())
    dlen = np.array([n_words(cand_answers[r["id"]]["answer"]) - n_words(base_answers[r["id"]]["answer"]) for r in ok])
    # a checklist judge grades answers alone: its records have no orders, so no position statistics
    consistent = [r["consistent"] for r in ok if "consistent" in r]
    first_pos = [o["verdict"] == "A" for r in ok if "order_xy" in r for o in (r["order_xy"], r["order_yx"])
                 if o["verdict"] in DECISIVE_VERDICTS]

    def avg_len(ans: dict[str, dict]) -> dict[str, Any]:
        ids = [r["id"] for r in records]
        toks = [ans[i].get("completion_tokens") for i in ids if isinstance(ans[i].get("completion_tokens"), int)]
        return {"words": float(np.mean([n_words(ans[i]["answer"]) for i in ids])) if ids else None,
                "completion_tokens": float(np.mean(toks)) if toks else None}

    return {
        "baseline": base_name, "candidate": cand_name, "n_pairs": len(records), "n_scored": len(ok),
        **failure_counts(records, "winner"),
        "wins": wins, "ties": ties, "losses": losses,
        "win_rate": stats.bootstrap_ci(score, n_resamples=n_resamples, seed=seed),
        "lc_win_rate": stats.lc_win_rate_ci(score, dlen, n_resamples=n_resamples, seed=seed) if len(ok) >= 3 else None,
        "position_consistency": float(np.mean(consistent)) if consistent else None,
        "first_position_rate": float(np.mean(first_pos)) if first_pos else None,
        "avg_length": {base_name: avg_len(base_answers), cand_name: avg_len(cand_answers)},
        "length_unit": "whitespace words",
    }
