"""Stage runner: skip when up to date, rerun on input change, failures are reported by stage name."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from supportbot.stages import Stage, StageRunner, hash_paths


def _counting_stage(tmp_path: Path, calls: list[int], src: Path, **kw) -> Stage:
    out = tmp_path / "out.txt"

    def run() -> None:
        calls.append(1)
        out.write_text(src.read_text().upper())

    return Stage("upper", run, inputs=[src], outputs=[out], **kw)


def test_skips_when_inputs_unchanged_and_reruns_on_change(tmp_path: Path):
    src = tmp_path / "in.txt"
    src.write_text("a")
    calls: list[int] = []
    runner = StageRunner(tmp_path / "state")
    runner.run_all([_counting_stage(tmp_path, calls, src)])
    runner.run_all([_counting_stage(tmp_path, calls, src)])
    assert len(calls) == 1 and runner.timings[-1]["status"] == "skipped"
    src.write_text("b")
    runner.run_all([_counting_stage(tmp_path, calls, src)])
    assert len(calls) == 2 and (tmp_path / "out.txt").read_text() == "B"


def test_missing_output_or_param_change_reruns(tmp_path: Path):
    src = tmp_path / "in.txt"
    src.write_text("a")
    calls: list[int] = []
    runner = StageRunner(tmp_path / "state")
    runner.run_all([_counting_stage(tmp_path, calls, src, params={"k": 1})])
    (tmp_path / "out.txt").unlink()
    runner.run_all([_counting_stage(tmp_path, calls, src, params={"k": 1})])
    runner.run_all([_counting_stage(tmp_path, calls, src, params={"k": 2})])
    assert len(calls) == 3


def test_failed_command_names_the_stage_and_keeps_no_stamp(tmp_path: Path):
    runner = StageRunner(tmp_path / "state")
    stage = Stage("boom", [sys.executable, "-c", "raise SystemExit(3)"], outputs=[tmp_path / "never"])
    with pytest.raises(SystemExit, match="stage 'boom' failed .exit code 3."):
        runner.run_all([stage])
    assert not (tmp_path / "state" / "boom.json").exists()


def test_hash_covers_folder_contents(tmp_path: Path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "x").write_text("1")
    h1 = hash_paths([d])
    (d / "x").write_text("2")
    assert hash_paths([d]) != h1


def test_a_stage_with_nothing_to_do_keeps_the_time_of_the_run_that_did_the_work(tmp_path: Path):
    from supportbot.stages import UP_TO_DATE

    src, out = tmp_path / "in.txt", tmp_path / "out.txt"
    src.write_text("a")
    work = {"done": False}

    def run() -> str | None:
        if work["done"]:
            return UP_TO_DATE
        import time

        time.sleep(0.3)
        out.write_text("x")
        work["done"] = True
        return None

    runner = StageRunner(tmp_path / "state")
    runner.run(Stage("gen", run, inputs=[src], outputs=[out]), 1, 1)
    first = runner.timings[-1]
    assert first["status"] == "ran" and first["seconds"] >= 0.3
    src.write_text("b")  # inputs change, but the stage finds its outputs complete
    runner.run(Stage("gen", run, inputs=[src], outputs=[out]), 1, 1)
    again = runner.timings[-1]
    assert again["status"] == "skipped" and again["seconds_when_run"] == first["seconds"]
    runner.run(Stage("gen", run, inputs=[src], outputs=[out]), 1, 1)  # now up to date by hash
    assert runner.timings[-1]["seconds_when_run"] == first["seconds"]
