"""Secret keys the bureau holds outside the repository and the data, each named by an environment variable.

- ``RISKCLASS_AUDIT_KEY_FILE``: signs the record ledger (records/anchor.py);
- ``RISKCLASS_DRAW_KEY_FILE``: keys the 双随机 draw, so that the published list of checked entities
  does not let anyone re-derive which class stratum each was drawn from (plan/draw.py);
- ``RISKCLASS_PSEUDONYM_KEY_FILE``: keyed pseudonyms of natural persons at ingest (personal.py).

A variable may name several files separated by ``:`` — the first is the current key, the others are
retired keys kept to verify older outputs (rotation). A key must live outside the repository (it
protects the repository's data) and hold at least 16 bytes (e.g. ``openssl rand -hex 32 > FILE``).
"""

from __future__ import annotations

import os
from pathlib import Path

MIN_KEY_BYTES = 16


class KeyFileError(RuntimeError):
    """A configured key that cannot be used; the message names the variable and the file."""


def key_files(env: str) -> list[Path]:
    value = os.environ.get(env, "").strip()
    return [Path(v).expanduser() for v in value.split(":") if v.strip()]


def repository_roots() -> list[Path]:
    """This project's checkout (when the package runs from one) and the DVC repository around the working dir."""
    roots = []
    project = Path(__file__).resolve().parents[2]
    if (project / "pyproject.toml").exists() or (project / "dvc.yaml").exists():
        roots.append(project)
    here = Path.cwd().resolve()
    roots += [d for d in (here, *here.parents) if (d / "dvc.yaml").exists()][:1]
    return roots


def read_key(path: Path, env: str, what: str = "key") -> bytes:
    """The key in ``path``, refused when it is missing, inside the repository or shorter than 16 bytes."""
    path = Path(path).expanduser()
    for root in repository_roots():
        if path.resolve().is_relative_to(root):
            raise KeyFileError(
                f"{path}: the {what} must live outside the repository ({root}); "
                f"e.g. `openssl rand -hex 32 > ~/.config/riskclass/{env.lower()}`"
            )
    if not path.is_file():
        raise KeyFileError(f"{env} names {path}, which is not a readable file")
    key = path.read_bytes().strip()
    if len(key) < MIN_KEY_BYTES:
        raise KeyFileError(f"{path}: a {what} needs at least {MIN_KEY_BYTES} bytes (e.g. `openssl rand -hex 32`)")
    return key


def current_key(env: str, what: str = "key") -> bytes | None:
    """The current key (the first file), or None when the variable is not set."""
    files = key_files(env)
    return read_key(files[0], env, what) if files else None


def all_keys(env: str) -> list[bytes]:
    """The current key first, then retired ones."""
    return [read_key(f, env) for f in key_files(env)]
