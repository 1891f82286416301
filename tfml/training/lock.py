"""One process per run directory.

``lock_run_dir(run_dir)`` takes an exclusive lock on ``<run_dir>/run.lock`` (``fcntl.flock``) and
writes who holds it (process, host, command, start time). A second process asking for the same run
directory is refused at once with an error naming the holder. The kernel releases the lock when its
process ends, however it ends, so a lock left by a killed process is simply taken over. On a system
without ``fcntl`` (Windows) run directories are not locked.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

LOCK_FILE = "run.lock"

_held: dict[Path, int] = {}  # run directories this process holds: resolved path -> descriptor


class RunDirectoryInUse(RuntimeError):
    """Another process holds the run directory."""


def _holder(descriptor: int) -> str:
    os.lseek(descriptor, 0, os.SEEK_SET)
    try:
        holder = json.loads(os.read(descriptor, 4096).decode("utf-8"))
        return f"process {holder['pid']} on {holder['host']} (`{holder['command']}`, started {holder['started']})"
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return "another process"


def lock_run_dir(run_dir: str | os.PathLike) -> None:
    """Holds ``run_dir`` (an existing folder) for this process until ``unlock_run_dir`` or the
    process ends; RunDirectoryInUse when another process holds it. Taking it again is a no-op."""
    run_dir = Path(run_dir)
    key = run_dir.resolve()
    if fcntl is None:
        return
    if key in _held:
        if (run_dir / LOCK_FILE).exists():
            return
        os.close(_held.pop(key))  # the folder was deleted and made again: lock the new one
    descriptor = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(descriptor)
        os.close(descriptor)
        raise RunDirectoryInUse(
            f"run directory {run_dir} is in use by {holder}; wait until it ends, or name another --run-dir"
        ) from None
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    os.ftruncate(descriptor, 0)
    os.lseek(descriptor, 0, os.SEEK_SET)
    os.write(descriptor, json.dumps(holder).encode("utf-8"))
    _held[key] = descriptor


def unlock_run_dir(run_dir: str | os.PathLike) -> None:
    """Lets ``run_dir`` go (closing the descriptor releases the lock)."""
    descriptor = _held.pop(Path(run_dir).resolve(), None)
    if descriptor is not None:
        os.close(descriptor)
