#!/usr/bin/env python
"""Before/after examples chosen by a fixed rule, never by hand: results/examples.md.

    python eval/examples.py [--results-dir results] [--judge local-qwen1.5b-checklist]

Rule: the first five eval ids (data/eval.jsonl order), then the three largest wins and the three
largest losses of the candidate (tuned) by the judge's pairwise verdict, among the remaining ids.
"Largest" is the position-debiased preference |pref| of a logprob judge, or the score difference
of a checklist judge; a JSON-verdict judge has no strength, so its decisive verdicts are taken in
eval order. Each example shows the question,
the reference answer, every arm's answer (base, tuned and, where the run has them, base_kb and tuned_kb
with the KB passages their prompt held) and the judge's pairwise and hallucination verdicts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from supportbot.arms import ARMS, judge_results_dir
from supportbot.cli_errors import cli_main
from supportbot.jsonl import read_jsonl
from supportbot.paths import DATA_DIR, DEFAULT_JUDGE, RESULTS_DIR

ROOT = Path(__file__).resolve().parents[1]

N_FIRST, N_WINS, N_LOSSES = 5, 3, 3


def _rows(path: Path) -> list[dict[str, Any]]:
    return read_jsonl(path) if path.is_file() else []


def choose(eval_ids: list[str], pairwise: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """(id, why) in the order of the rule above; ``pairwise`` maps id -> record (x = base, y = tuned)."""
    chosen = [(i, "first five eval ids") for i in eval_ids[:N_FIRST]]
    rest = [i for i in eval_ids[N_FIRST:] if i in pairwise]

    def strength(i: str) -> float:
        r = pairwise[i]
        if r.get("pref_x") is not None:
            return abs(r["pref_x"])
        return abs(r["score_y"] - r["score_x"]) if r.get("score_x") is not None else 0.0

    for winner, n, why in (("y", N_WINS, "largest tuned wins"), ("x", N_LOSSES, "largest tuned losses")):
        ids = [i for i in rest if pairwise[i].get("winner") == winner]
        ids = sorted(ids, key=lambda i: (-strength(i), eval_ids.index(i)))[:n]
        chosen += [(i, why) for i in ids]
    return chosen


def _quote(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in (text or "(empty)").strip().splitlines())


def render(chosen: list[tuple[str, str]], items: dict[str, dict], answers: dict[str, dict[str, dict]],
           pairwise: dict[str, dict], halluc: dict[tuple[str, str], dict], judge: str,
           arm_pairwise: dict[str, dict[str, dict]] | None = None) -> str:
    arm_pairwise = arm_pairwise or {}
    out = ["# Before/after examples", "",
           f"Chosen by the fixed rule in `eval/examples.py` (judge `{judge}`), not by hand: the first "
           f"{N_FIRST} eval ids, then the {N_WINS} largest tuned wins and {N_LOSSES} largest tuned losses by the "
           "judge's position-debiased pairwise preference. Judge verdicts are those of a small local judge; "
           "see the calibration table in the README before trusting any of them.", ""]
    for rid, why in chosen:
        item = items[rid]
        pw = pairwise.get(rid, {})
        verdict = {"x": "base better", "y": "tuned better", "tie": "tie"}.get(pw.get("winner"), pw.get("winner", "not judged"))
        pref = pw.get("pref_x")
        out += [f"## {rid} ({item.get('domain')}/{item.get('category')}): {why}", "",
                *[f"**{m['role'].capitalize()}:** {m['content']}\n" for m in item["messages"]],
                "**Reference answer:**", "", _quote(item.get("reference_answer", "")), ""]
        for model in answers:
            row = answers[model].get(rid, {})
            label = halluc.get((rid, model), {}).get("verdict", "not judged")
            vs = arm_pairwise.get(model, {}).get(rid, {}).get("winner_model")
            vs_base = f"; vs base: `{'tie' if vs == 'tie' else f'{vs} better'}`" if vs else ""
            out += [f"**{model}** (judge hallucination label: `{label}`{vs_base}):", "", _quote(row.get("answer", "(no answer)")), ""]
            if row.get("kb"):
                out += ["KB passages in its prompt: " + "; ".join(f"[{p['rank']}] {p['heading']}" for p in row["kb"]["passages"]), ""]
        scores = (f" (checklist score base {pw['score_x']:.2f}, tuned {pw['score_y']:.2f})"
                  if pw.get("score_x") is not None else "")
        out += [f"**Judge pairwise verdict:** {verdict}" + (f" (pref for base = {pref:+.3f})" if pref is not None else scores), ""]
    return "\n".join(out) + "\n"


def write_examples(results_dir: Path, judge: str, eval_path: Path = DATA_DIR / "eval.jsonl") -> Path | None:
    """Write results_dir/examples.md; None (with a warning) when the pairwise judgments are missing."""
    pw_path = results_dir / "judgments" / f"pairwise-{judge}.jsonl"
    if not pw_path.is_file():
        print(f"warning: {pw_path} is missing; examples.md not written", file=sys.stderr)
        return None
    items = {r["id"]: r for r in _rows(eval_path)}
    answers = {m: {r["id"]: r for r in _rows(results_dir / "answers" / f"{m}.jsonl")} for m in ARMS
               if m in ("base", "tuned") or (results_dir / "answers" / f"{m}.jsonl").is_file()}
    pairwise = {r["id"]: r for r in _rows(pw_path)}
    halluc = {(r["id"], r["model"]): r for r in _rows(results_dir / "judgments" / f"hallucination-{judge}.jsonl")}
    arm_pairwise: dict[str, dict[str, dict]] = {}
    for arm in (m for m in answers if m not in ("base", "tuned")):  # the retrieval arms, each judged against base
        judged = judge_results_dir(results_dir, arm) / "judgments"
        halluc.update({(r["id"], r["model"]): r for r in _rows(judged / f"hallucination-{judge}.jsonl") if r["model"] == arm})
        arm_pairwise[arm] = {r["id"]: r for r in _rows(judged / f"pairwise-{judge}.jsonl")}
    chosen = choose(list(items), pairwise)
    out = results_dir / "examples.md"
    out.write_text(render(chosen, items, answers, pairwise, halluc, judge, arm_pairwise))
    return out


@cli_main  # unreadable/bad input files: "error: file: problem", rc 2 (supportbot.cli_errors)
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    p.add_argument("--judge", default=DEFAULT_JUDGE, help="judge name in results/judgments/pairwise-<judge>.jsonl")
    p.add_argument("--eval", type=Path, default=DATA_DIR / "eval.jsonl")
    a = p.parse_args(argv)
    out = write_examples(a.results_dir, a.judge, a.eval)
    if out is None:
        return 1
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
