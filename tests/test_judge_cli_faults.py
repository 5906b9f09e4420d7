"""Issue 24, faults E, F and R: judge configs and judge inputs that used to crash or pass silently.

The judge is the fake OpenAI-style endpoint of tests/judge_fake.py (a real HTTP server on 127.0.0.1).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from judge_fake import FakeJudge, cli_args, write_jsonl_rows, write_workspace

from supportbot.judge import cli
from supportbot.judge.endpoint.config import CONFIGS_DIR, ConfigError, JudgeConfig, load_config


@pytest.fixture
def fake():
    f = FakeJudge()
    yield f
    f.close()


def _config(tmp: Path, text: str | bytes | None = None, **changes) -> Path:
    path = tmp / "judge.yaml"
    if text is None:
        text = yaml.safe_dump(yaml.safe_load((CONFIGS_DIR / "local-qwen0.5b.yaml").read_text()) | changes)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _run(tmp: Path, fake: FakeJudge, command: str, *extra: str, config: Path | None = None) -> int:
    args = cli_args(tmp, fake.base_url, *extra)
    if config is not None:
        args[args.index("--judge") + 1] = str(config)
    return cli.main([command, *args])


# ------------------------------------------------------------------ E: a config that is not UTF-8
def test_fault_E_judge_config_latin1_byte(tmp_path, fake, capsys):
    """Was UnicodeDecodeError and rc 1; now rc 2 with file and line, like every other config error."""
    base = (CONFIGS_DIR / "local-qwen0.5b.yaml").read_bytes()
    path = _config(tmp_path, base + b"notes: caf\xe9\n")
    line = base.count(b"\n") + 1
    write_workspace(tmp_path)
    assert _run(tmp_path, fake, "pairwise", config=path) == 2
    err = capsys.readouterr().err
    assert f"error: {path}:{line}: not UTF-8 text: byte 0xe9" in err and "Traceback" not in err
    assert fake.requests == []
    with pytest.raises(ConfigError, match=f"{path}:{line}: not UTF-8"):
        load_config(path)


def test_fault_E_judge_config_nested_too_deeply(tmp_path):
    with pytest.raises(ConfigError, match="invalid YAML: nested too deeply"):
        load_config(_config(tmp_path, "notes: " + "[" * 100_000))


# ------------------------------------------------------------------ R: api_key_env names any variable
@pytest.mark.parametrize("name", ["HOME", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "PATH", "openai_api_key",
                                  "MY_API_KEY_X", "API_KEY", ""])
def test_fault_R_api_key_env_must_name_an_api_key_variable(tmp_path, fake, capsys, name):
    """The named variable's value is sent as the Bearer token to the config's base_url: another secret of
    the environment could be sent to any endpoint a config names. Only *_API_KEY names are accepted."""
    write_workspace(tmp_path)
    path = _config(tmp_path, api_key_env=name)
    assert _run(tmp_path, fake, "pairwise", config=path) == 2
    err = capsys.readouterr().err
    assert f"error: {path}: api_key_env:" in err and "_API_KEY" in err
    assert fake.requests == []


@pytest.mark.parametrize("name", ["SUPPORTBOT_API_KEY", "OPENAI_API_KEY", "VLLM_API_KEY", "ANTHROPIC_API_KEY"])
def test_api_key_env_accepts_api_key_names(name):
    assert JudgeConfig(name="j", model="m", api_key_env=name).api_key_env == name


def test_every_shipped_judge_config_still_loads():
    for path in sorted(p for p in CONFIGS_DIR.glob("*.yaml") if p.stem != "reference_check"):  # not a judge
        assert load_config(path).name


# ------------------------------------------------------------------ F: nothing to judge was rc 0
def test_fault_F_pairwise_empty_candidate_file(tmp_path, fake, capsys):
    """Was rc 0 with n_pairs 0 and win_rate null, no warning."""
    write_workspace(tmp_path)
    (tmp_path / "tuned.jsonl").write_text("")
    assert _run(tmp_path, fake, "pairwise") == 2
    err = capsys.readouterr().err
    assert f"error: nothing to judge: {tmp_path / 'tuned.jsonl'} has no answer for 6 of the 6 selected ids: " \
           "q0, q1, q2, q3, q4, q5" in err
    assert fake.requests == [] and not (tmp_path / "out" / "judgments").exists()


def test_fault_F_pairwise_candidate_without_the_selected_ids(tmp_path, fake, capsys):
    write_workspace(tmp_path)
    write_jsonl_rows(tmp_path / "tuned.jsonl", [{"id": "q5", "answer": "GOOD", "model": "tuned"}])
    assert _run(tmp_path, fake, "pairwise", "--ids", "q0,q2") == 2
    assert f"{tmp_path / 'tuned.jsonl'} has no answer for 2 of the 2 selected ids: q0, q2" in capsys.readouterr().err
    assert _run(tmp_path, fake, "pairwise", "--limit", "3") == 2  # q0..q2: none answered
    assert "nothing to judge" in capsys.readouterr().err
    assert fake.requests == []


def test_fault_F_ids_with_some_answers_missing(tmp_path, fake, capsys):
    """--ids names what to judge: an id of them without an answer is an error too, naming the file."""
    write_workspace(tmp_path)
    write_jsonl_rows(tmp_path / "base.jsonl", [{"id": "q0", "answer": "b", "model": "base"}])
    assert _run(tmp_path, fake, "hallucination", "--ids", "q0,q1") == 2
    err = capsys.readouterr().err
    assert f"error: --ids without an answer: {tmp_path / 'base.jsonl'} has no answer for 1 of the 2 selected ids: q1" in err


def test_fault_F_partly_answered_run_warns_and_records(tmp_path, fake, capsys):
    """Without --ids, ids an answer file lacks are judged without, with a warning naming file and ids."""
    write_workspace(tmp_path)
    write_jsonl_rows(tmp_path / "tuned.jsonl", [{"id": f"q{i}", "answer": "GOOD", "model": "tuned"} for i in (0, 1)])
    assert _run(tmp_path, fake, "pairwise") == 0
    err = capsys.readouterr().err
    assert f"WARNING: judging 2 of 6 selected ids: {tmp_path / 'tuned.jsonl'} has no answer for 4 of the 6" in err
    summary = json.loads((tmp_path / "out" / "judgments" / "pairwise-local-qwen0.5b.summary.json").read_text())
    assert summary["n_pairs"] == 2 and summary["missing_answers"] == {"tuned": ["q2", "q3", "q4", "q5"]}


@pytest.mark.parametrize("option", ["--limit", "--concurrency", "--resamples", "--rubric-limit"])
def test_judge_counts_must_be_positive(tmp_path, fake, capsys, option):
    write_workspace(tmp_path)
    with pytest.raises(SystemExit) as exc:
        _run(tmp_path, fake, "pairwise", option, "0")
    assert exc.value.code == 2 and f"{option}: must be >= 1" in capsys.readouterr().err


def test_kb_excerpt_not_utf8_names_file_and_line(tmp_path):
    from supportbot.judge.inputs import InputError, kb_excerpt

    (tmp_path / "leds.md").write_bytes(b"# LEDs\n\nSolid red: caf\xe9 fault\n")
    with pytest.raises(InputError, match=r"leds.md:3: not UTF-8 text: byte 0xe9"):
        kb_excerpt(["leds"], "red", 50, tmp_path)
