"""The audit key that anchors the ledger outside the data.

Each ledger line carries an HMAC-SHA256 of its hash under a key the bureau's auditor holds, kept
outside the repository and the data (a file named by ``RISKCLASS_AUDIT_KEY_FILE``). Without the key,
someone who can write the data folder could rewrite the latest record, its manifest and its ledger
line consistently; with it, ``riskclass audit verify`` detects that. Rotation: a new key signs the
lines sealed after it; keep retired keys to verify older lines (``RISKCLASS_AUDIT_KEY_FILE`` may list
several files separated by ``:``, the first one signs).
"""

from __future__ import annotations

import hmac
import os
from pathlib import Path

KEY_ENV = "RISKCLASS_AUDIT_KEY_FILE"


class AuditKeyError(RuntimeError):
    pass


def _key_files() -> list[Path]:
    value = os.environ.get(KEY_ENV, "").strip()
    return [Path(v).expanduser() for v in value.split(":") if v.strip()]


def _read(path: Path) -> bytes:
    if not path.is_file():
        raise AuditKeyError(f"{KEY_ENV} names {path}, which is not a readable file")
    here = Path.cwd().resolve()
    if path.resolve().is_relative_to(here) and (here / "dvc.yaml").exists():
        raise AuditKeyError(
            f"{path}: the audit key must live outside the repository (it anchors the repository's data)"
        )
    key = path.read_bytes().strip()
    if len(key) < 16:
        raise AuditKeyError(f"{path}: an audit key needs at least 16 bytes (e.g. `openssl rand -hex 32 > {path}`)")
    return key


def audit_key() -> bytes | None:
    """The signing key (the first file), or None when no key is configured."""
    files = _key_files()
    return _read(files[0]) if files else None


def audit_keys() -> list[bytes]:
    """Every configured key: the signing key first, then retired ones (for verifying older lines)."""
    return [_read(f) for f in _key_files()]


def anchor_matches(entry_sha256: str, anchor: str, keys: list[bytes]) -> bool:
    return any(hmac.compare_digest(hmac.new(k, entry_sha256.encode(), "sha256").hexdigest(), anchor) for k in keys)


def sign(key: bytes, entry_sha256: str) -> str:
    return hmac.new(key, entry_sha256.encode(), "sha256").hexdigest()
