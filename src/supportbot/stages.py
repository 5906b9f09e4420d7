"""A small stage runner: each stage is a command that reads files and writes files.

A stage is skipped when its outputs exist and the content hash of its inputs (files, folders and
parameters) equals the one recorded when it last finished (``<state_dir>/<stage>.json``). Timings
of every stage (run or skipped) are collected for ``results/pipeline_timing.json``.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supportbot.paths import ROOT


def hash_paths(paths: list[Path], params: dict[str, Any] | None = None) -> str:
    """sha256 over the contents of files (folders recursively, sorted) and the JSON of ``params``."""
    digest = hashlib.sha256(json.dumps(params or {}, sort_keys=True, default=str).encode())
    for path in paths:
        path = Path(path)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            digest.update(str(f.relative_to(ROOT) if f.is_relative_to(ROOT) else f).encode())
            if not f.exists():
                digest.update(b"<missing>")
                continue
            with f.open("rb") as fh:
                while block := fh.read(1 << 20):
                    digest.update(block)
    return digest.hexdigest()


def last_seconds(entry: dict[str, Any]) -> float | None:
    """A timing entry's seconds: this run's if the stage ran, else those recorded when it last ran."""
    return entry.get("seconds") if entry.get("status") == "ran" else entry.get("seconds_when_run")


UP_TO_DATE = "up to date"  # a Python stage returns this when it found nothing to do (e.g. every answer already there)


@dataclass
class Stage:
    """One pipeline step: ``run`` is a command (list of args) or a Python callable."""

    name: str
    run: list[str] | Callable[[], None]
    inputs: list[Path] = field(default_factory=list)
    outputs: list[Path] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    always: bool = False  # cheap, self-idempotent stages (e.g. bootstrap) run every time


class StageRunner:
    """Runs stages in order, skipping the up-to-date ones, and records timings."""

    def __init__(self, state_dir: Path, *, force: set[str] | None = None, env: dict[str, str] | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.force = force or set()
        self.env = env
        self.timings: list[dict[str, Any]] = []

    def _stamp(self, stage: Stage) -> Path:
        return self.state_dir / f"{stage.name}.json"

    def is_fresh(self, stage: Stage, input_hash: str) -> bool:
        """True when the stage finished before with the same inputs and its outputs still exist."""
        stamp = self._stamp(stage)
        if stage.always or stage.name in self.force or not stamp.is_file():
            return False
        recorded = json.loads(stamp.read_text()).get("input_hash")
        return recorded == input_hash and all(Path(o).exists() for o in stage.outputs)

    def run(self, stage: Stage, index: int, total: int) -> None:
        """Run (or skip) one stage; raises SystemExit naming the stage when it fails."""
        input_hash = hash_paths(stage.inputs, stage.params)
        label = f"[{index}/{total}] {stage.name}"
        if self.is_fresh(stage, input_hash):
            earlier = json.loads(self._stamp(stage).read_text())
            print(f"{label}: up to date, skipped (it ran in {earlier.get('seconds', 0):.0f} s)", flush=True)
            self._skipped(stage, earlier)
            return
        print(f"{label}: running", flush=True)
        started = time.time()
        if callable(stage.run):
            if stage.run() == UP_TO_DATE:
                self._nothing_done(stage, input_hash, label)
                return
        else:
            print("  + " + shlex.join(stage.run), flush=True)
            proc = subprocess.run(stage.run, cwd=ROOT, env=self.env)
            if proc.returncode != 0:
                raise SystemExit(f"stage {stage.name!r} failed (exit code {proc.returncode}); fix it and run again: finished stages are kept")
        seconds = round(time.time() - started, 1)
        missing = [str(o) for o in stage.outputs if not Path(o).exists()]
        if missing:
            raise SystemExit(f"stage {stage.name!r} finished but did not write: {', '.join(missing)}")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._stamp(stage).write_text(json.dumps({"input_hash": input_hash, "seconds": seconds, "finished_at": time.time()}) + "\n")
        print(f"{label}: done in {seconds:.0f} s", flush=True)
        self.timings.append({"stage": stage.name, "status": "ran", "seconds": seconds})

    def _nothing_done(self, stage: Stage, input_hash: str, label: str) -> None:
        """The stage had nothing to do: record it as skipped and keep the time of the run that did the work."""
        stamp = self._stamp(stage)
        earlier = json.loads(stamp.read_text()) if stamp.is_file() else {}
        self.state_dir.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps({"input_hash": input_hash, "seconds": earlier.get("seconds"),
                                     "finished_at": earlier.get("finished_at")}) + "\n")
        print(f"{label}: nothing to do (its outputs were already complete)", flush=True)
        self._skipped(stage, earlier)

    def _skipped(self, stage: Stage, earlier: dict[str, Any]) -> None:
        """Record a stage that did not run, with the time of the run that made its outputs."""
        self.timings.append({"stage": stage.name, "status": "skipped", "seconds": 0.0,
                             "seconds_when_run": earlier.get("seconds"), "finished_at": earlier.get("finished_at")})

    def run_all(self, stages: list[Stage]) -> list[dict[str, Any]]:
        """Run every stage in order; returns the timings."""
        for i, stage in enumerate(stages, start=1):
            self.run(stage, i, len(stages))
        return self.timings
