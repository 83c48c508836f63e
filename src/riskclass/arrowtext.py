"""Whole-column text operations through Arrow compute, for columns held as Python strings.

pandas runs ``Series.str`` methods on object columns one Python call per value (≈ 0.4 µs each); at a
million-entity city that is most of ingest. These helpers hand a column to Arrow's C++ kernels instead and
give back what the caller works with (an object Series on the same index, or a numpy mask). Results are
the same as the Python string methods they replace: ``strip`` trims exactly the characters ``str.strip()``
does, and regular expressions are RE2 (no look-arounds; ``\\d`` is ASCII).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: What Python's ``str.strip()`` removes (every character whose ``str.isspace()`` is true; a test checks the
#: list against the running Python), so that Arrow trims the same characters.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)

#: RE2 character class of the same characters (Python's ``\s``).
WHITESPACE_CLASS = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in WHITESPACE) + "]"


def to_arrow(values: pd.Series | np.ndarray) -> pa.Array:
    """Values as an Arrow string array (null for anything that is not a string)."""
    raw = values.to_numpy(dtype=object) if isinstance(values, pd.Series) else np.asarray(values, dtype=object)
    try:
        return pa.array(raw, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([v if isinstance(v, str) else None for v in raw], type=pa.string())


def to_objects(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An Arrow string array as a numpy array of Python strings (None for nulls)."""
    return values.to_numpy(zero_copy_only=False)


def _like(values: pd.Series, result: pa.Array | pa.ChunkedArray) -> pd.Series:
    return pd.Series(to_objects(result), index=values.index, name=values.name, dtype=object)


def trim(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Arrow's trim with Python's whitespace set."""
    return pc.utf8_trim(values, characters=WHITESPACE)


def strip(values: pd.Series) -> pd.Series:
    """``values.str.strip()``."""
    return _like(values, trim(to_arrow(values)))


def remove(values: pd.Series, literal: str) -> pd.Series:
    """``values.str.replace(literal, "", regex=False)``, rewriting only values that contain it."""
    arr = to_arrow(values)
    hit = pc.match_substring(arr, literal).fill_null(False)
    if not pc.any(hit).as_py():
        return values
    return _like(values, pc.replace_substring(arr, literal, ""))


def regex_mask(values: pd.Series | np.ndarray, pattern: str) -> np.ndarray:
    """Where the RE2 ``pattern`` matches (anywhere; anchor it for whole values); False for missing values."""
    hit = pc.match_substring_regex(to_arrow(values), pattern)
    return hit.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)


def python_where(values: pd.Series, candidates: str, function) -> pd.Series:
    """``values.map(function)`` on the values the RE2 pattern ``candidates`` matches, the rest unchanged.

    For a Python regular expression (Unicode ``\\d``, look-arounds) over a column where few values can match:
    ``candidates`` must match every value ``function`` would change."""
    rows = np.flatnonzero(regex_mask(values, candidates))
    if not len(rows):
        return values
    out = values.copy()
    out.iloc[rows] = [function(v) for v in values.to_numpy(dtype=object)[rows]]
    return out


class KeySet:
    """Distinct text keys held as one Arrow array: a few bytes per key where a hashed Index of Python strings
    takes ≈ 100, and handed to a worker process as buffers (the registry's USCCs at millions of entities)."""

    def __init__(self, values: pa.Array | pa.ChunkedArray | pd.Series | np.ndarray):
        if not isinstance(values, pa.Array | pa.ChunkedArray):
            values = to_arrow(values)
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        self.values = pc.unique(values.cast(pa.string()).drop_null())

    def __len__(self) -> int:
        return len(self.values)

    def contains(self, values: pd.Series | np.ndarray) -> np.ndarray:
        hit = pc.is_in(to_arrow(values), value_set=self.values)
        return hit.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
