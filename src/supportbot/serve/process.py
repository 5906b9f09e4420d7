"""Start an HTTP server as a background process, wait until it is ready, stop it cleanly.

Standard library only (usable from ``.venv``, ``.venv-vllm`` or any Python 3.11). Stable API::

    from supportbot.serve.process import ServerProcess, free_port

    # any command; "{port}" and "{host}" in the argv are filled in (a free port when port is None)
    with ServerProcess([sys.executable, "-m", "supportbot.serve", "--model", "base=models/smollm2-135m-instruct",
                        "--port", "{port}"], ready_path="/healthz", timeout=180, name="supportbot") as srv:
        srv.url        # "http://127.0.0.1:<port>"
        srv.base_url   # "http://127.0.0.1:<port>/v1"   (OpenAI client base_url)
        ...
    # leaving the block stops it: SIGTERM to its process group, then SIGKILL after ``stop_grace`` s

    # the supportbot service in one call (same thing as above):
    with ServerProcess.supportbot(models={"base": "models/smollm2-135m-instruct"}) as srv: ...
    with ServerProcess.supportbot(upstream="http://127.0.0.1:8000/v1") as srv: ...

``start()`` / ``stop()`` can be called without ``with``. While it runs, the server's pid is in
``outputs/servers/<name>-<port>.pid`` and its stdout+stderr go to ``outputs/servers/<name>-<port>.log``
(``srv.log_path``); ``srv.log_tail()`` returns the last lines, and a failed start raises
``ServerStartError`` with that tail. Readiness is ``GET <url><ready_path>`` answering 200 (with
``Authorization: Bearer <api_key>`` when ``api_key`` is given); ``ready_model="name"`` also waits
until that id is listed (use with ``ready_path="/v1/models"``, e.g. for vLLM).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from supportbot.netutil import ExitedBeforeReady, NotReadyInTime, free_port, poll_http_ready

ROOT = Path(os.environ.get("SUPPORTBOT_ROOT", Path(__file__).resolve().parents[3]))
SERVERS_DIR = ROOT / "outputs" / "servers"

__all__ = ["ServerProcess", "ServerStartError", "free_port", "wait_http_ready"]


class ServerStartError(RuntimeError):
    """The server exited before it was ready, or was not ready within the timeout."""


def wait_http_ready(
    url: str,
    *,
    timeout: float = 120.0,
    api_key: str | None = None,
    ready_model: str | None = None,
    proc: subprocess.Popen | None = None,
    interval: float = 0.25,
) -> float:
    """Poll ``url`` until it answers 200 (and lists ``ready_model`` if given). Returns seconds waited.

    Raises ``ServerStartError`` when ``proc`` exits first or after ``timeout`` seconds.
    """
    try:
        return poll_http_ready(url, timeout=timeout, interval=interval, api_key=api_key,
                               ready_model=ready_model, proc=proc)
    except ExitedBeforeReady as exc:
        raise ServerStartError(f"server exited with code {exc.returncode} before {url} was ready") from None
    except NotReadyInTime:
        raise ServerStartError(f"{url} not ready after {timeout:.0f} s") from None


class ServerProcess:
    """One background server process (own process group) with a pid file, a log file and a readiness wait.

    Args:
        cmd: argv; ``"{port}"`` / ``"{host}"`` inside any item are replaced.
        port: port to use; ``None`` picks a free one.
        host: host the server binds (used for the URL and the ``{host}`` placeholder).
        ready_path: path polled for readiness (``/healthz`` for supportbot, ``/v1/models`` for vLLM).
        timeout: seconds to wait for readiness.
        name: label for the pid and log files (``outputs/servers/<name>-<port>.{pid,log}``).
        env: environment for the child (default: a copy of ``os.environ``); ``extra_env`` is merged on top.
        cwd: working directory (default: the repository root).
        api_key: bearer key sent with the readiness probe (never written anywhere).
        ready_model: also wait until ``GET ready_path`` lists this model id.
        stop_grace: seconds between SIGTERM and SIGKILL on stop.
        servers_dir: where pid and log files go (default ``outputs/servers``).
    """

    def __init__(
        self,
        cmd: Sequence[str],
        port: int | None = None,
        *,
        host: str = "127.0.0.1",
        ready_path: str = "/healthz",
        timeout: float = 180.0,
        name: str = "server",
        env: Mapping[str, str] | None = None,
        extra_env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        api_key: str | None = None,
        ready_model: str | None = None,
        stop_grace: float = 15.0,
        servers_dir: str | Path | None = None,
    ) -> None:
        self.host = host
        self.port = int(port) if port else free_port(host)
        self.cmd = [str(c).replace("{port}", str(self.port)).replace("{host}", host) for c in cmd]
        self.ready_path = ready_path if ready_path.startswith("/") else "/" + ready_path
        self.timeout = timeout
        self.name = name
        self.env = dict(os.environ if env is None else env)
        if extra_env:
            self.env.update(extra_env)
        self.cwd = Path(cwd) if cwd is not None else ROOT
        self.api_key = api_key
        self.ready_model = ready_model
        self.stop_grace = stop_grace
        self.servers_dir = Path(servers_dir) if servers_dir is not None else SERVERS_DIR
        self.pid_file = self.servers_dir / f"{name}-{self.port}.pid"
        self.log_path = self.servers_dir / f"{name}-{self.port}.log"
        self.proc: subprocess.Popen | None = None
        self.ready_s: float | None = None

    # ---------------------------------------------------------------- convenience constructors
    @classmethod
    def supportbot(
        cls,
        models: Mapping[str, str | Path] | None = None,
        *,
        upstream: str | None = None,
        extra_args: Sequence[str] = (),
        python: str | None = None,
        **kwargs,
    ) -> ServerProcess:
        """The supportbot service: ``python -m supportbot.serve --model name=dir ... | --upstream URL``."""
        if not models and not upstream:
            raise ValueError("give models={'base': dir, ...} or upstream='http://host:port/v1'")
        cmd = [python or sys.executable, "-m", "supportbot.serve", "--host", "{host}", "--port", "{port}"]
        for n, d in (models or {}).items():
            cmd += ["--model", f"{n}={d}"]
        if upstream:
            cmd += ["--upstream", upstream]
        cmd += list(extra_args)
        kwargs.setdefault("name", "supportbot")
        kwargs.setdefault("ready_path", "/healthz")
        env = dict(kwargs.pop("env", None) or os.environ)
        src = str(ROOT / "src")
        if src not in env.get("PYTHONPATH", "").split(os.pathsep):
            env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        return cls(cmd, env=env, **kwargs)

    # ---------------------------------------------------------------- properties
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """OpenAI-style base URL (``<url>/v1``)."""
        return f"{self.url}/v1"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.is_file():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> ServerProcess:
        """Launch the process and block until it is ready (raises ``ServerStartError`` otherwise)."""
        if self.alive():
            return self
        self.servers_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=self.env, cwd=self.cwd, start_new_session=True,
            )
        self.pid_file.write_text(f"{self.proc.pid}\n")
        try:
            self.ready_s = wait_http_ready(
                self.url + self.ready_path, timeout=self.timeout, api_key=self.api_key,
                ready_model=self.ready_model, proc=self.proc,
            )
        except BaseException as exc:
            self.stop()
            if isinstance(exc, ServerStartError):
                raise ServerStartError(
                    f"{exc}\ncommand: {' '.join(self.cmd)}\n--- last lines of {self.log_path} ---\n{self.log_tail()}"
                ) from None
            raise
        return self

    def stop(self) -> int | None:
        """SIGTERM the process group, wait ``stop_grace`` s, then SIGKILL. Returns the exit code."""
        proc, self.proc = self.proc, None
        try:
            if proc is None:
                return None
            if proc.poll() is None:
                self._signal_group(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=self.stop_grace)
                except subprocess.TimeoutExpired:
                    self._signal_group(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
            # children left behind in the group (e.g. vLLM's engine process)
            self._signal_group(proc.pid, signal.SIGKILL)
            return proc.returncode
        finally:
            self.pid_file.unlink(missing_ok=True)

    @staticmethod
    def _signal_group(pgid: int, sig: int) -> None:
        try:
            os.killpg(pgid, sig)  # started with start_new_session: the group id is the child's pid
        except (ProcessLookupError, PermissionError):
            pass

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.alive() else "stopped"
        return f"ServerProcess({self.name!r}, {self.url}, {state}, pid={self.pid})"
