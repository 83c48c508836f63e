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


def key_hashes(values: pa.Array | pd.Series | np.ndarray) -> np.ndarray:
    """A 64-bit hash of each text value (pandas' SipHash; nulls hash alike)."""
    if isinstance(values, pa.Array | pa.ChunkedArray):
        values = to_objects(values)
    elif isinstance(values, pd.Series):
        values = values.to_numpy(dtype=object)
    return pd.util.hash_array(np.asarray(values, dtype=object), categorize=False)


class HashedKeys:
    """Distinct text keys sorted by their hash: a lookup is a binary search (each hit checked on the text), so a
    million keys are hashed once, not at every lookup as ``pyarrow.compute.is_in`` / ``index_in`` do. Compact:
    Arrow text plus 8 bytes a key (and the ``payload`` given with them, in the same order)."""

    def __init__(self, keys: pa.Array, payload: np.ndarray | None = None):
        hashes = key_hashes(keys)
        order = np.argsort(hashes, kind="stable")
        self.hashes, self.keys = hashes[order], keys.take(pa.array(order))
        self.payload = payload[order] if payload is not None else None
        self.exact = bool((np.diff(self.hashes) != 0).all())  # no two keys share a hash: one candidate per value

    def find(self, values: pa.Array, hashes: np.ndarray) -> np.ndarray:
        """The position of each value among ``keys`` (hash order), -1 where absent."""
        n = len(self.hashes)
        out = np.full(len(values), -1, dtype=np.int64)
        if not n:
            return out
        if not self.exact:  # a hash collision among the keys (never seen in practice): Arrow's exact lookup
            at = pc.index_in(values, value_set=self.keys).fill_null(-1)
            return at.to_numpy(zero_copy_only=False).astype(np.int64)
        at = np.minimum(np.searchsorted(self.hashes, hashes), n - 1)
        hit = np.flatnonzero(self.hashes[at] == hashes)
        if len(hit):
            same = pc.equal(values.take(pa.array(hit)), self.keys.take(pa.array(at[hit])))
            hit = hit[same.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)]
            out[hit] = at[hit]
        return out


class KeySet:
    """Distinct text keys held as Arrow text with their hashes (``HashedKeys``): a few bytes per key where a
    hashed Index of Python strings takes ≈ 100, handed to a worker process as buffers (the registry's USCCs at
    millions of entities), and no hash table rebuilt at each lookup."""

    def __init__(self, values: pa.Array | pa.ChunkedArray | pd.Series | np.ndarray):
        if not isinstance(values, pa.Array | pa.ChunkedArray):
            values = to_arrow(values)
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        values = values.cast(pa.string()).drop_null()
        self.index = HashedKeys(values)  # keys are distinct as a rule (a registry, a table's key column) ...
        if not self.index.exact:  # ... else made so
            self.index = HashedKeys(pc.unique(values))

    def __len__(self) -> int:
        return len(self.index.keys)

    def contains(self, values: pd.Series | np.ndarray) -> np.ndarray:
        return self.index.find(to_arrow(values), key_hashes(values)) >= 0
