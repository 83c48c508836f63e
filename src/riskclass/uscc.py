"""统一社会信用代码 (GB 32100-2015): validation via python-stdnum, and generation for the synthetic city."""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pandas as pd
from stdnum.cn import uscc as stdnum_uscc

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_GB11714_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


_CANONICAL = re.compile(r"[0-9]{8}[0-9A-HJ-NPQRTUWXY]{10}")


@lru_cache(maxsize=2_000_000)
def _check(value: str) -> tuple[bool, bool]:
    """(format_ok, checksum_ok) of one value; cached because every table repeats the registry's codes."""
    if not _CANONICAL.fullmatch(value):
        return False, False
    return True, stdnum_uscc.calc_check_digit(value[:17]) == value[17]


def check_results(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Return (format_ok, checksum_ok) per value.

    ``format_ok``: 18 characters, first 8 digits, the rest in the GB 32100 alphabet, already in
    canonical form (no spaces or lower case: ingest never rewrites an identifier silently).
    ``checksum_ok``: the check character matches (python-stdnum's calculation).
    """
    text = values.astype("string").fillna("")
    uniques = pd.unique(text)
    results = [_check(v) for v in uniques]
    fmt = dict(zip(uniques, (r[0] for r in results), strict=True))
    chk = dict(zip(uniques, (r[1] for r in results), strict=True))
    return text.map(fmt).to_numpy(dtype=bool), text.map(chk).to_numpy(dtype=bool)


def _org_code_check(body: str) -> str:
    """GB 11714 organisation-code check character for an 8-digit body."""
    remainder = 11 - sum(int(c) * w for c, w in zip(body, _GB11714_WEIGHTS, strict=True)) % 11
    return {10: "X", 11: "0"}.get(remainder, str(remainder))


def generate(rng: np.random.Generator, prefixes: np.ndarray, divisions: np.ndarray) -> np.ndarray:
    """Unique, valid USCCs: prefix (91/92/93) + registering division + organisation code + check.

    The organisation code is 8 random digits (unique across the batch) plus its GB 11714 check
    character; the final check character comes from python-stdnum.
    """
    n = len(prefixes)
    bodies = rng.choice(100_000_000, size=n, replace=False)
    out = np.empty(n, dtype=object)
    for i in range(n):
        body = f"{bodies[i]:08d}"
        partial = f"{prefixes[i]}{divisions[i]}{body}{_org_code_check(body)}"
        out[i] = partial + stdnum_uscc.calc_check_digit(partial)
    return out


def corrupt_check_character(value: str) -> str:
    """The same code with a wrong check character (a typical transcription error)."""
    current = ALPHABET.index(value[-1])
    return value[:-1] + ALPHABET[(current + 7) % len(ALPHABET)]
