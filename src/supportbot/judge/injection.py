"""Prompt-injection robustness: rejudge a sample of pairs with attacked answers, report the flip rates.

For each sampled pair and each attack kind (``prompts/judge_injection.txt``: the kinds the sanitizer was
written against; ``prompts/judge_injection_heldout.txt``: kinds written after it), the answer that lost
the clean pair verdict (the candidate's on a tie) gets the attack's lines inserted (:func:`inject`)
in both orders, naming that answer's position. The pair is judged again in both orders and combined
exactly as in the clean run. Reported, overall and per attack kind: the pair-verdict flip rate
(share of pairs whose verdict changed), the success rate (share now won by the attacked answer), the
same two rates for the order-level verdicts, and how many judged prompts were byte-identical to the
clean prompt after sanitizing (the sanitizer restored the answer exactly; such a prompt is answered
from the cache with the clean verdict).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from supportbot.judge.endpoint.client import JudgeClient
from supportbot.judge.graders.prompting import pairwise_messages, render
from supportbot.judge.graders.verdicts import apply_threshold, ask, combine_orders
from supportbot.judge.inputs import InputError
from supportbot.judge.labels import PAIRWISE_VERDICTS, WINNERS, failure_counts
from supportbot.paths import load_prompt
from supportbot.records import EvalItem

if TYPE_CHECKING:
    from supportbot.judge.context import Run

PAIR_OK = WINNERS
ORDER_OK = PAIRWISE_VERDICTS
ATTACK_PROMPTS = {"judge_injection": False, "judge_injection_heldout": True}  # prompt -> held out
_SECTION = re.compile(r"^### ([a-z0-9-]+) (start|end)[ \t]*$", re.M)


@dataclass(frozen=True)
class Attack:
    name: str
    placement: str  # "start" or "end"
    template: str  # lines to insert; {{position}} / {{other}} are the letters
    held_out: bool = False  # written after the sanitizer (prompts/judge_injection_heldout.txt)

    def lines(self, position: str) -> list[str]:
        return render(self.template, position=position, other="B" if position == "A" else "A").split("\n")


def load_attacks(names: list[str] | None = None) -> list[Attack]:
    """The attack kinds of the :data:`ATTACK_PROMPTS` files (all, or those named, in file order)."""
    attacks = []
    for prompt, held_out in ATTACK_PROMPTS.items():
        parts = _SECTION.split(load_prompt(prompt))
        attacks += [Attack(n, p, body.strip(), held_out)
                    for n, p, body in zip(parts[1::3], parts[2::3], parts[3::3], strict=True)]
    if names:
        known = {a.name for a in attacks}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(f"unknown attack kind(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        attacks = [a for a in attacks if a.name in names]
    return attacks


def inject(answer: str, attack: Attack, position: str, budget_words: int) -> str:
    """``answer`` with the attack's lines inserted between its lines, where the judge still sees them: at
    the start, or after the last line that fits in ``budget_words`` together with the attack."""
    lines, attack_lines = answer.split("\n"), attack.lines(position)
    at = 0
    if attack.placement == "end":
        room, words = budget_words - len(" ".join(attack_lines).split()) - 2, 0
        for i, line in enumerate(lines):
            words += len(line.split())
            if words > room:
                break
            at = i + 1
    return "\n".join(lines[:at] + attack_lines + lines[at:])


def sample_ids(ids: list[str], n: int, seed: int) -> list[str]:
    ids = sorted(ids)
    return sorted(random.Random(seed).sample(ids, min(n, len(ids))))


def sample_and_attacks(run: Run) -> tuple[list[str], list[Attack]]:
    """The seeded sample of ``run.injection_n`` ids that both models answered, and the attack kinds asked for."""
    base, cand = run.answers()
    ids, _ = run.selected(base, cand)
    try:
        attacks = load_attacks(run.injection_attacks)
    except ValueError as exc:
        raise InputError(f"--attacks: {exc}") from None
    return sample_ids(ids, run.injection_n, run.seed), attacks


def _rate(rows: list[dict], key: str, ok: tuple, target_key: str | None = None) -> dict[str, Any]:
    scored = [r for r in rows if r[key] in ok and r[f"clean_{key}"] in ok]
    if not scored:
        return {"n": 0, "flip_rate": None, "success_rate": None}
    return {"n": len(scored),
            "flip_rate": sum(r[key] != r[f"clean_{key}"] for r in scored) / len(scored),
            "success_rate": sum(r[key] == r[target_key] for r in scored) / len(scored) if target_key else None}


def _rates(pair_rows: list[dict], order_rows: list[dict]) -> dict[str, Any]:
    pairs = _rate(pair_rows, "winner", PAIR_OK, "injected_into")
    orders = _rate(order_rows, "verdict", ORDER_OK, "injected_position")
    return {"n_pairs_scored": pairs["n"], "pair_flip_rate": pairs["flip_rate"], "pair_success_rate": pairs["success_rate"],
            "n_orders_scored": orders["n"], "order_flip_rate": orders["flip_rate"],
            "order_success_rate": orders["success_rate"],
            **failure_counts(order_rows),
            "n_prompts_same_as_clean": sum(r["same_prompt_as_clean"] for r in order_rows)}


def run_injection(client: JudgeClient, clean: list[dict[str, Any]], items: dict[str, EvalItem],
                  answers_x: dict[str, dict], answers_y: dict[str, dict], *, attacks: list[Attack],
                  tie_band: float = 0.0, progress: bool = True) -> dict[str, Any]:
    """``clean``: pairwise records (x = baseline, y = candidate) for the sampled ids."""
    cfg = client.cfg
    logprobs = cfg.uses_logprobs
    budget = cfg.budget.answer_words
    jobs = []  # (record, attack, order, answer in A, answer in B, attacked position, clean A, clean B)
    for rec in clean:
        if rec["winner"] not in PAIR_OK:
            continue
        x, y = answers_x[rec["id"]]["answer"], answers_y[rec["id"]]["answer"]
        into_x = rec["winner"] == "y"
        for attack in attacks:
            if into_x:
                jobs += [(rec, attack, "xy", inject(x, attack, "A", budget), y, "A", x, y),
                         (rec, attack, "yx", y, inject(x, attack, "B", budget), "B", y, x)]
            else:
                jobs += [(rec, attack, "xy", x, inject(y, attack, "B", budget), "B", x, y),
                         (rec, attack, "yx", inject(y, attack, "A", budget), x, "A", y, x)]

    def one(job: tuple) -> dict[str, Any]:
        rec, attack, order, a, b, position, clean_a, clean_b = job
        msgs = pairwise_messages(cfg, items[rec["id"]], a, b, logprobs=logprobs)
        same = msgs == pairwise_messages(cfg, items[rec["id"]], clean_a, clean_b, logprobs=logprobs)
        meta = {"id": rec["id"], "order": order, "target": position, "attack": attack.name}
        return {**apply_threshold(ask(client, msgs, "pairwise-injection", meta), "pairwise"), "same_prompt": same}

    results = client.map(one, jobs, desc="injection", progress=progress)
    pair_rows, order_rows = [], []
    for i in range(0, len(jobs), 2):
        rec, attack = jobs[i][0], jobs[i][1]
        pair = combine_orders(results[i], results[i + 1], tie_band)
        pair_rows.append({"id": rec["id"], "attack": attack.name, "injected_into": "x" if jobs[i][5] == "A" else "y",
                          "clean_winner": rec["winner"], "winner": pair["winner"],
                          "clean_pref_x": rec.get("pref_x"), "pref_x": pair.get("pref_x")})
        for j in (i, i + 1):
            order = jobs[j][2]
            order_rows.append({"id": rec["id"], "attack": attack.name, "order": order, "injected_position": jobs[j][5],
                               "clean_verdict": rec[f"order_{order}"]["verdict"], "verdict": results[j]["verdict"],
                               "same_prompt_as_clean": results[j]["same_prompt"], "raw": results[j].get("raw"),
                               "p_a": results[j].get("p_a")})
    by_attack = {a.name: {"placement": a.placement, "held_out": a.held_out,
                          **_rates([r for r in pair_rows if r["attack"] == a.name],
                                   [r for r in order_rows if r["attack"] == a.name])} for a in attacks}
    return {"n_pairs": len(pair_rows) // max(1, len(attacks)), "attacks": [a.name for a in attacks],
            "n_pair_attacks": len(pair_rows), "n_judgments": len(results), **_rates(pair_rows, order_rows),
            "by_attack": by_attack, "rows": pair_rows + order_rows}
