"""tools/check_fresh_clone.py: which summary differences count as different results."""

import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location("check_fresh_clone", Path(__file__).parents[1] / "tools" / "check_fresh_clone.py")
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)

SUMMARY = {"pairwise": {"win_rate": {"estimate": 0.49, "ci_low": 0.445}, "records": "a/pairwise.jsonl"},
           "training": {"dev_loss_after": 3.225, "wall_time_s": 289.0},
           "lm_eval": {"models": {"base": {"bits_per_byte": 1.186, "seconds": 70.1}}},
           "pipeline_timing": {"full_run_seconds": 1162.5}}


def test_same_outcomes_other_times_and_paths_are_equal():
    other = {**SUMMARY, "training": {"dev_loss_after": 3.225, "wall_time_s": 301.0},
             "lm_eval": {"models": {"base": {"bits_per_byte": 1.186, "seconds": 90.0}}},
             "pairwise": {**SUMMARY["pairwise"], "records": "b/pairwise.jsonl"}, "pipeline_timing": {}}
    assert mod.outcome_differences(SUMMARY, other) == []


def test_a_changed_outcome_is_reported():
    other = {**SUMMARY, "pairwise": {"win_rate": {"estimate": 0.51, "ci_low": 0.445}}}
    diffs = mod.outcome_differences(SUMMARY, other)
    assert [d["key"] for d in diffs] == ["/pairwise/win_rate/estimate"]
    assert diffs[0]["committed"] == 0.49 and diffs[0]["regenerated"] == 0.51
