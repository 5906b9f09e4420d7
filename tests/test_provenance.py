"""supportbot.provenance: digests, the result writer, and the one hardware schema."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from supportbot import provenance as pv
from supportbot.models import gguf_to_hf
from supportbot.training import manifest as mf


def test_digests_match_hashlib(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"x" * 3000)
    b.write_bytes("é\n".encode())
    assert pv.sha256_bytes(b"abc") == hashlib.sha256(b"abc").hexdigest()
    assert pv.sha256_text("é") == hashlib.sha256("é".encode()).hexdigest()
    assert pv.sha256_file(a, chunk=7) == hashlib.sha256(a.read_bytes()).hexdigest()
    assert pv.sha256_files([b, a], chunk=1000) == hashlib.sha256(b.read_bytes() + a.read_bytes()).hexdigest()
    assert pv.sha256_files([a, b]) != pv.sha256_files([b, a])  # in the given order
    assert mf.sha256_text_file(a) == pv.sha256_file(a)


def test_old_names_are_reexported() -> None:
    assert gguf_to_hf.sha256_files is pv.sha256_files and gguf_to_hf.sha256_file is pv.sha256_file
    assert mf.hardware is pv.hardware and mf.git_state is pv.git_state and mf.package_versions is pv.package_versions
    assert mf.cpu_bf16_flags is pv.cpu_bf16_flags


def test_write_result(tmp_path: Path, capsys) -> None:
    out = tmp_path / "deep" / "r.json"
    assert pv.write_result(out, {"a": "é", "b": [1]}) == 0
    assert out.read_text() == json.dumps({"a": "é", "b": [1]}, indent=2) + "\n"
    assert capsys.readouterr().out == f"written to {out}\n"
    pv.write_result(out, {"a": "é"}, summary="3 differences", ensure_ascii=False)
    assert out.read_text() == '{\n  "a": "é"\n}\n'
    assert capsys.readouterr().out == f"3 differences; written to {out}\n"
    pv.write_result(out, [], quiet=True)
    assert capsys.readouterr().out == ""


def test_hardware_schema() -> None:
    hw = pv.hardware()
    assert set(hw) == {"cpu_model", "cpu_cores", "cpu_bf16_flags", "gpu_name", "gpu_count", "torch_threads", "mem_gib"}
    assert hw["cpu_cores"] >= 1
    assert pv.mem_gib("MemTotal:       24641536 kB\n") == 23.5 and pv.mem_gib("") is None
