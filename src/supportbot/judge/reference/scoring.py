"""Scoring one answer against its references: similarities, threshold decisions, output rows, per-model summary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from supportbot.judge.metrics import bootstrap_ci
from supportbot.judge.reference.config import Config, Thresholds
from supportbot.judge.reference.embeddings import Embedder, split_sentences
from supportbot.judge.reference.inputs import Answer, EvalRef


@dataclass
class Similarities:
    """Everything the thresholds act on, kept so they can be refitted without re-embedding.

    ``fact_sims[k]``: best similarity of key fact k to an answer sentence that is not closer to a
    forbidden claim (a sentence stating a forbidden claim does not cover a fact).
    ``forbidden_pairs``: (similarity, margin) for every (forbidden claim, sentence) pair, where the
    margin is the similarity minus that sentence's best similarity to any key fact or reference sentence.
    """

    sentences: list[str]
    fact_sims: np.ndarray
    fact_best: list[int]
    forbidden_pairs: np.ndarray  # (n_forbidden, n_sentences, 2)
    reference_sim: float | None


def similarities(emb: Embedder, answer: str, ref: EvalRef) -> Similarities:
    """Embed the answer's sentences once and compare them with the key facts, forbidden claims and reference."""
    sents = split_sentences(answer)
    nf, nb, ns = len(ref.key_facts), len(ref.forbidden_claims), len(sents)
    if not ns:
        return Similarities(sents, np.zeros(nf), [-1] * nf, np.zeros((nb, 0, 2)), None)
    facts = emb.similarity(ref.key_facts, sents) if nf else np.zeros((0, ns))
    forb = emb.similarity(ref.forbidden_claims, sents) if nb else np.zeros((0, ns))
    ref_sents = split_sentences(ref.reference_answer or "")
    correct = np.vstack([facts, emb.similarity(ref_sents, sents) if ref_sents else np.zeros((0, ns))])
    best_correct = correct.max(axis=0) if len(correct) else np.full(ns, -1.0)
    best_forb = forb.max(axis=0) if nb else np.full(ns, -1.0)
    usable = np.where(facts >= best_forb[None, :], facts, 0.0) if nf else facts
    pairs = np.stack([forb, forb - best_correct[None, :]], axis=-1) if nb else np.zeros((0, ns, 2))
    rsim = float(emb.similarity([answer], [ref.reference_answer])[0, 0]) if ref.reference_answer else None
    return Similarities(sents, usable.max(axis=1) if nf else np.zeros(0),
                        usable.argmax(axis=1).tolist() if nf else [], pairs, rsim)


def decide(sim: Similarities, th: Thresholds) -> dict[str, Any]:
    """Covered facts, forbidden hits, recall and the flag of one answer under thresholds ``th``."""
    covered = sim.fact_sims >= th.fact_threshold
    p = sim.forbidden_pairs
    pair_hit = (p[..., 0] >= th.forbidden_threshold) & (p[..., 1] >= th.forbidden_margin)
    hits = pair_hit.any(axis=1) if p.shape[1] else np.zeros(p.shape[0], bool)
    recall = float(covered.mean()) if len(covered) else None
    low_recall = th.min_recall > 0 and recall is not None and recall < th.min_recall
    return {"recall": recall, "covered": covered, "hits": hits, "forbidden_hit": bool(hits.any()),
            "flagged": bool(hits.any() or low_recall),
            "hit_sentence": [int(np.argmax(np.where(h, p[j, :, 0], -9))) if h.any() else -1
                             for j, h in enumerate(pair_hit)]}


def score_row(ans: Answer, ref: EvalRef, sim: Similarities, th: Thresholds) -> dict[str, Any]:
    """The per-answer row of ``reference_check_rows.jsonl``."""
    d = decide(sim, th)
    def sent(i: int) -> str | None:
        return sim.sentences[i] if i >= 0 else None
    best_forb = sim.forbidden_pairs[..., 0].max(axis=1) if sim.forbidden_pairs.shape[1] else np.zeros(len(d["hits"]))
    return {
        "id": ans.id, "model": ans.model, "n_sentences": len(sim.sentences),
        "key_fact_recall": None if d["recall"] is None else round(d["recall"], 4),
        "forbidden_hit": d["forbidden_hit"], "n_forbidden_hits": int(d["hits"].sum()), "flagged": d["flagged"],
        "reference_similarity": None if sim.reference_sim is None else round(sim.reference_sim, 4),
        "key_facts": [{"fact": f, "similarity": round(float(s), 4), "covered": bool(c), "best_sentence": sent(b)}
                      for f, s, c, b in zip(ref.key_facts, sim.fact_sims, d["covered"], sim.fact_best, strict=True)],
        "forbidden_claims": [{"claim": f, "max_similarity": round(float(s), 4), "hit": bool(h),
                              "hit_sentence": sent(i)}
                             for f, s, h, i in zip(ref.forbidden_claims, best_forb, d["hits"], d["hit_sentence"],
                                                   strict=True)],
    }


def summarise(rows: list[dict], cfg: Config) -> dict[str, Any]:
    """Per model: mean recall, forbidden-hit, flag rate and reference similarity with seeded bootstrap CIs."""
    def stat(values: list[float]) -> dict[str, Any]:
        ci = bootstrap_ci(values, n_resamples=cfg.bootstrap_resamples, seed=cfg.seed)
        r = lambda v: None if v is None else round(v, 4)  # noqa: E731
        return {"mean": r(ci["estimate"]), "ci95": [r(ci["ci_low"]), r(ci["ci_high"])] if len(values) > 1 else None,
                "n": len(values)}

    per_model: dict[str, Any] = {}
    for model in sorted({r["model"] for r in rows}):
        mine = [r for r in rows if r["model"] == model]
        recall = [r["key_fact_recall"] for r in mine if r["key_fact_recall"] is not None]
        per_model[model] = {
            "answers": len(mine),
            "key_fact_recall": stat(recall),
            "forbidden_hit_rate": stat([float(r["forbidden_hit"]) for r in mine]),
            "flag_rate": stat([float(r["flagged"]) for r in mine]),
            "reference_similarity": stat([r["reference_similarity"] for r in mine if r["reference_similarity"] is not None]),
            "answers_without_key_facts": len(mine) - len(recall),
        }
    return per_model
