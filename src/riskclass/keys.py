"""Secret keys the bureau holds outside the repository and the data, each named by an environment variable.

- ``RISKCLASS_AUDIT_KEY_FILE``: signs the record ledger (records/anchor.py);
- ``RISKCLASS_DRAW_KEY_FILE``: keys the 双随机 draw, so that the published list of checked entities
  does not let anyone re-derive which class stratum each was drawn from (plan/draw.py).

A variable may name several files separated by ``:`` — the first is the current key, the others are
retired keys kept to verify older outputs (rotation). A key must live outside the repository (it
protects the repository's data) and hold at least 16 bytes (e.g. ``openssl rand -hex 32 > FILE``).
"""

from __future__ import annotations

import os
from pathlib import Path


class KeyError_(RuntimeError):
    """A configured key that cannot be used; the message names the variable and the file."""


def key_files(env: str) -> list[Path]:
    value = os.environ.get(env, "").strip()
    return [Path(v).expanduser() for v in value.split(":") if v.strip()]


def read_key(path: Path, env: str) -> bytes:
    if not path.is_file():
        raise KeyError_(f"{env} names {path}, which is not a readable file")
    here = Path.cwd().resolve()
    if path.resolve().is_relative_to(here) and (here / "dvc.yaml").exists():
        raise KeyError_(f"{path}: a key named by {env} must live outside the repository (it protects its data)")
    key = path.read_bytes().strip()
    if len(key) < 16:
        raise KeyError_(f"{path}: a key needs at least 16 bytes (e.g. `openssl rand -hex 32 > {path}`)")
    return key


def current_key(env: str) -> bytes | None:
    """The current key (the first file), or None when the variable is not set."""
    files = key_files(env)
    return read_key(files[0], env) if files else None


def all_keys(env: str) -> list[bytes]:
    """The current key first, then retired ones."""
    return [read_key(f, env) for f in key_files(env)]
