"""bf16 autocast on CPUs with native bf16, fp32 elsewhere: the selection logic and the cpuinfo parser."""

from __future__ import annotations

import pytest

from supportbot.training import cpu_precision as mod
from supportbot.training.manifest import cpu_bf16_flags

AMD_AVX2 = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu sse avx avx2 fma\n"
ZEN4 = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 avx512f avx512_bf16 avx512_vnni\n"
SPR = "processor\t: 0\nmodel name\t: Intel Xeon\nflags\t\t: avx512f avx512_bf16 amx_bf16 amx_tile\n"


def test_cpuinfo_flags() -> None:
    assert cpu_bf16_flags(AMD_AVX2) == []
    assert cpu_bf16_flags(ZEN4) == ["avx512_bf16"]
    assert cpu_bf16_flags(SPR) == ["avx512_bf16", "amx_bf16"]
    assert cpu_bf16_flags("no flags here") == []


def test_choose_precision() -> None:
    choose = mod.choose_precision
    assert choose("auto", cuda=False, flags=[]) == "fp32"
    assert choose("auto", cuda=False, flags=["amx_bf16"]) == "bf16"
    assert choose(False, cuda=False, flags=["amx_bf16"]) == "fp32"
    assert choose(True, cuda=False, flags=[]) == "bf16"
    assert choose("auto", cuda=True, flags=["amx_bf16"]) == "gpu-config"
    with pytest.raises(ValueError, match="cpu_bf16"):
        choose("yes", cuda=False, flags=[])


def test_plugin_training_args(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mod, "_cuda", lambda: False)
    monkeypatch.setattr(mod, "cpu_bf16_flags", lambda: ["avx512_bf16"])
    plugin = mod.CpuPrecisionPlugin()
    assert plugin.get_training_args({"cpu_bf16": "auto"}) == {"use_cpu": True, "bf16": True, "fp16": False}
    monkeypatch.setattr(mod, "cpu_bf16_flags", lambda: [])
    assert plugin.get_training_args({"cpu_bf16": "auto"}) is None
