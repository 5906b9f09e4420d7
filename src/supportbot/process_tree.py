"""Processes by pid, via signals and /proc (no psutil): is one alive, stop its group, sum its tree's memory."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

__all__ = ["alive", "group_alive", "process_tree_rss", "stop_pid"]


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie child of ours counts as dead)."""
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


def stop_pid(pid: int, *, grace: float = 30, quiet: bool = False) -> None:
    """SIGTERM ``pid`` (its whole group when it leads one), wait up to ``grace`` s, then SIGKILL."""
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
        if not alive(pid) and (not target_group or not group_alive(pgid)):
            return
        time.sleep(0.3)
    if not quiet:
        print(f"pid {pid} still running after {grace:.0f} s; sending SIGKILL", file=sys.stderr)
    try:
        sig_target(signal.SIGKILL)
    except ProcessLookupError:
        pass


def group_alive(pgid: int) -> bool:
    """True while any process of group ``pgid`` runs (zombies do not count)."""
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
