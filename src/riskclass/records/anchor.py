"""The audit key that anchors the ledger outside the data.

Each ledger line carries an HMAC-SHA256 of its hash under a key the bureau's auditor holds, kept
outside the repository and the data (a file named by ``RISKCLASS_AUDIT_KEY_FILE``, see keys.py).
Without the key, someone who can write the data folder could rewrite the latest record, its manifest
and its ledger line consistently; with it, ``riskclass audit verify`` detects that. Rotation: a new
key signs the lines sealed after it; keep retired keys after it in the variable to verify older lines.
"""

from __future__ import annotations

import hmac

from riskclass.keys import all_keys, current_key

KEY_ENV = "RISKCLASS_AUDIT_KEY_FILE"


def audit_key() -> bytes | None:
    """The signing key, or None when no key is configured."""
    return current_key(KEY_ENV)


def audit_keys() -> list[bytes]:
    """Every configured key: the signing key first, then retired ones (for verifying older lines)."""
    return all_keys(KEY_ENV)


def sign(key: bytes, entry_sha256: str) -> str:
    return hmac.new(key, entry_sha256.encode(), "sha256").hexdigest()


def anchor_matches(entry_sha256: str, anchor: str, keys: list[bytes]) -> bool:
    return any(hmac.compare_digest(sign(k, entry_sha256), anchor) for k in keys)
