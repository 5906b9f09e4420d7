"""Checklist judge (RocketEval-style): grade each answer alone against its item's checklist with yes/no checks.

Every check is one chat call whose verdict is read from the first token's logprobs:
``p = P(yes) / (P(yes) + P(no))``. The prompt (``prompts/judge_check.txt``) shows the whole answer
first and the check after it, so a vLLM prefix cache reuses the answer across its checks; the
questions are in ``prompts/judge_check_questions.yaml``.

Checklist of an eval item:
- each key fact: ``stated`` (and ``contradicted`` when the question file has that probe);
- each forbidden claim: ``asserted``;
- every item: ``declines`` (says it lacks the information and offers a human, inventing nothing): on
  unanswerable items that is the right answer, on answerable ones it marks the answer as not attempted;
- items with neither key facts nor forbidden claims: the generic support checklist.

Per answer (:class:`AnswerGrade`): ``coverage`` (mean p(stated) over key facts; for the generic
checklist the mean of the good outcomes), ``risk`` (the largest of: p(contradicted), p(asserted),
on unanswerable items 1 - p(declines), and on answerable ones ``unsupported`` = (1 - p(declines)) x
(1 - coverage), an attempted answer that states none of the item's facts; with the check that
fired), and ``score = coverage - risk``. The
hallucination verdict is ``risk > threshold``; the pairwise verdict of two answers to one item is
the sign of their score difference beyond a tie margin. Threshold and margin are chosen by
cross-validation on the labels (src/supportbot/judge/calibration/checklist.py), never on the rows they are scored on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import yaml

from supportbot.judge.endpoint.client import JudgeClient
from supportbot.judge.graders.parse import VerdictParseError
from supportbot.judge.graders.prompting import as_data, load_template, render
from supportbot.paths import PROMPTS_DIR
from supportbot.records import EvalItem

QUESTIONS = PROMPTS_DIR / "judge_check_questions.yaml"
YES, NO = ("YES", "Y"), ("NO", "N")


@dataclass(frozen=True)
class Check:
    """One yes/no question about an answer."""

    id: str  # e.g. "fact:2:stated", "forbidden:1", "declines", "generic:on_topic"
    kind: str  # stated | contradicted | asserted | declines | generic
    question: str
    good_if_yes: bool


@dataclass
class AnswerGrade:
    """The checklist judge's view of one answer."""

    item_id: str
    p: dict[str, float] = field(default_factory=dict)  # check id -> p(yes)
    coverage: float = 0.0
    risk: float = 0.0
    fired: str | None = None  # the check behind ``risk``
    errors: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return self.coverage - self.risk


@lru_cache(maxsize=1)
def questions() -> dict[str, Any]:
    return yaml.safe_load(QUESTIONS.read_text())


def checklist(item: EvalItem) -> list[Check]:
    """The item's checks, in a fixed order."""
    q = questions()
    checks: list[Check] = []
    for i, fact in enumerate(item.key_facts, 1):
        checks.append(Check(f"fact:{i}:stated", "stated", q["stated"].format(text=fact), True))
        if q.get("contradicted"):  # optional probe (left out of the default questions: see the YAML)
            checks.append(Check(f"fact:{i}:contradicted", "contradicted", q["contradicted"].format(text=fact), False))
    for i, claim in enumerate(item.forbidden_claims, 1):
        checks.append(Check(f"forbidden:{i}", "asserted", q["asserted"].format(text=claim), False))
    if item.key_facts or item.forbidden_claims or not item.answerable:
        checks.append(Check("declines", "declines", q["declines"], not item.answerable))
    if not item.key_facts and not item.forbidden_claims:
        question = item.question
        for g in q["generic"]:
            checks.append(Check(f"generic:{g['id']}", "generic", g["text"].format(question=question), bool(g["good"])))
    return checks


def check_messages(answer: str, check: Check, *, prompt: str = "judge_check", clean: bool = True) -> list[dict[str, str]]:
    """The chat messages of one check (whole answer, sanitized; the check question last)."""
    system, user = load_template(prompt)
    return [{"role": "system", "content": system},
            {"role": "user", "content": render(user, answer=as_data(answer, 100_000, clean=clean), check=check.question)}]


def p_yes(top: list[list[Any]] | None) -> float:
    """P(yes) / (P(yes) + P(no)) among the first token's top logprobs."""
    yes = no = 0.0
    for tok, lp in top or []:
        norm = str(tok).strip().strip("\"'`*.(").upper()
        if norm in YES:
            yes += math.exp(float(lp))
        elif norm in NO:
            no += math.exp(float(lp))
    if yes + no <= 0:
        raise VerdictParseError(f"neither Yes nor No among the top tokens {[t for t, _ in top or []]}")
    return yes / (yes + no)


def aggregate(item: EvalItem, p: dict[str, float], checks: list[Check]) -> tuple[float, float, str | None]:
    """(coverage, risk, fired check) from the checks' p(yes)."""
    stated = [p[c.id] for c in checks if c.kind == "stated" and c.id in p]
    generic_good = [p[c.id] if c.good_if_yes else 1 - p[c.id] for c in checks if c.kind == "generic" and c.id in p]
    coverage = sum(stated) / len(stated) if stated else (sum(generic_good) / len(generic_good) if generic_good else 0.0)
    risks: dict[str, float] = {c.id: p[c.id] for c in checks if c.kind in ("contradicted", "asserted") and c.id in p}
    if "declines" in p and not item.answerable:
        risks["declines"] = 1 - p["declines"]
    elif stated:  # an attempted answer that states none of the item's facts invents what it says instead
        risks["unsupported"] = (1 - p.get("declines", 0.0)) * (1 - coverage)
    risks.update({c.id: p[c.id] for c in checks if c.kind == "generic" and not c.good_if_yes and c.id in p})
    if not risks:
        return coverage, 0.0, None
    fired = max(risks, key=risks.get)
    return coverage, risks[fired], fired


def grade(client: JudgeClient, item: EvalItem, answer: str) -> AnswerGrade:
    """Run every check of ``item`` on ``answer`` (cached, retried by the client)."""
    checks = checklist(item)
    cfg = client.cfg
    prompt, clean = cfg.prompts.check, cfg.sanitize_answers
    g = AnswerGrade(item_id=str(item.id))
    for c in checks:
        try:
            resp = client.complete(check_messages(answer, c, prompt=prompt, clean=clean), logprobs=True,
                                   meta={"task": "check", "id": str(item.id), "check": c.id})
            g.p[c.id] = p_yes(resp.get("top_logprobs"))
        except Exception as exc:  # noqa: BLE001 - counted and reported; the grade uses the checks that worked
            g.errors.append(f"{c.id}: {type(exc).__name__}: {exc}"[:300])
    g.coverage, g.risk, g.fired = aggregate(item, g.p, checks)
    return g


# ------------------------------------------------------------------ learned answer-level combination
FEATURES = ("unstated", "asserted_max", "attempted", "attempted_unanswerable", "unsupported")


def features(item: EvalItem, g: AnswerGrade) -> list[float]:
    """The answer-level features a :class:`RiskModel` combines (RocketEval-style learned combination)."""
    bad = [v for k, v in g.p.items() if k.startswith("forbidden:")
           or k in ("generic:no_invented_contacts", "generic:repeats")]
    attempted = 1.0 - g.p.get("declines", 0.0)
    unstated = 1.0 - g.coverage
    return [unstated, max(bad, default=0.0), attempted, 0.0 if item.answerable else attempted, unstated * attempted]


@dataclass(frozen=True)
class RiskModel:
    """Logistic regression on standardised :data:`FEATURES`: P(hallucinated) of one answer.

    Stored as plain numbers in results/calibration.json, so a main run applies it without pickles."""

    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    features: tuple[str, ...] = FEATURES
    c: float = 1.0  # inverse L2 strength

    @classmethod
    def fit(cls, x: list[list[float]], y: list[bool], c: float = 1.0) -> RiskModel:
        import numpy as np
        from sklearn.linear_model import LogisticRegression

        xa = np.asarray(x, float)
        mean, scale = xa.mean(0), xa.std(0)
        scale[scale == 0] = 1.0
        if len(set(y)) < 2:  # one class only: a constant model
            prior = min(max(float(np.mean(y)), 1e-3), 1 - 1e-3)
            return cls(list(mean), list(scale), [0.0] * xa.shape[1], math.log(prior / (1 - prior)), c=c)
        lr = LogisticRegression(C=c).fit((xa - mean) / scale, np.asarray(y, bool))
        return cls([float(v) for v in mean], [float(v) for v in scale], [float(v) for v in lr.coef_[0]],
                   float(lr.intercept_[0]), c=c)

    def predict(self, x: list[float]) -> float:
        z = self.intercept + sum(w * (v - m) / s for w, v, m, s in zip(self.coef, x, self.mean, self.scale, strict=True))
        return 1.0 / (1.0 + math.exp(-z))


def pair_verdict(score_a: float, score_b: float, margin: float) -> str:
    """"A", "B" or "tie" from two answers' scores."""
    d = score_a - score_b
    return "tie" if abs(d) <= margin else ("A" if d > 0 else "B")
