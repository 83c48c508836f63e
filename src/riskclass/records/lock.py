"""One writer at a time: an exclusive lock on the record store, with the holder named.

The lock is an ``flock`` on a file beside the store, so the kernel releases it when the holder dies
(even on ``kill -9``): a crashed run never leaves a stale lock. The holder writes who it is (pid,
host, command) into the file so that a refused second run can name it. A run that starts child
processes holding the same lock (``riskclass run`` → ``dvc repro`` → ``riskclass classify``) passes
its token in ``RISKCLASS_LOCK_TOKEN``; a child presenting the holder's token proceeds without locking.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TOKEN_ENV = "RISKCLASS_LOCK_TOKEN"


class LockHeld(RuntimeError):
    """Another run holds the lock; nothing was changed."""


def lock_path(records_dir: Path) -> Path:
    records_dir = Path(records_dir)
    return records_dir.parent / f".{records_dir.name}.lock"


def _holder(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, json.JSONDecodeError):
        return {}


@contextmanager
def exclusive(records_dir: Path, purpose: str) -> Iterator[str]:
    """Hold the store's lock for the block; yield the token children may present. Raise ``LockHeld`` if taken."""
    path = lock_path(records_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    inherited = os.environ.get(TOKEN_ENV)
    if inherited and _holder(path).get("token") == inherited:
        yield inherited  # our parent holds the lock for us
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            h = _holder(path)
            raise LockHeld(
                f"another riskclass run holds the lock {path}: pid {h.get('pid', '?')} on {h.get('host', '?')}, "
                f"{h.get('purpose', '?')} (`{h.get('command', '?')}`); nothing was changed — wait for it to finish"
            ) from None
        token = secrets.token_hex(16)
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "purpose": purpose,
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            "token": token,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder, ensure_ascii=False).encode("utf-8"), 0)
        try:
            yield token
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
