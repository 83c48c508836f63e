"""Column operations through Arrow give what the Python string methods they replace give."""

from __future__ import annotations

import re
import sys

import numpy as np
import pandas as pd

from riskclass import arrowtext
from riskclass.ingest.rules import parse_dates, parse_numbers

TRICKY = ["", " a ", "\u3000湛江\u3000", "\xa0b\t", "\x1c c \x1f", "x\u2028", "\u200bzero-width\u200b", "中 文", "  "]


def test_the_whitespace_list_is_what_python_strips():
    python = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())
    assert python == arrowtext.WHITESPACE


def test_strip_is_str_strip():
    values = pd.Series(TRICKY, index=range(10, 10 + len(TRICKY)), dtype=object)
    out = arrowtext.strip(values)
    assert out.tolist() == [v.strip() for v in TRICKY] and out.index.equals(values.index)
    assert "\u200bzero-width\u200b" in out.tolist()  # zero-width space is not whitespace to Python either


def test_python_where_rewrites_only_candidates_and_regex_mask_is_re2():
    values = pd.Series(["2019-12-31 00:00:00", "2020-01-02", "a:b"], dtype=object)
    calls = []
    out = arrowtext.python_where(values, ":", lambda v: calls.append(v) or v.upper())
    assert out.tolist() == ["2019-12-31 00:00:00", "2020-01-02", "A:B"] and len(calls) == 2
    space = re.compile(r"\s")
    texts = pd.Series(["a b", "a\u3000b", "ab", "a\x85b"], dtype=object)
    assert arrowtext.regex_mask(texts, arrowtext.WHITESPACE_CLASS).tolist() == [bool(space.search(t)) for t in texts]


def test_numbers_parse_as_pandas_parses_them():
    text = ["1", "1,234.5", "-3.5", "", "x", "1e3", "12345678901234567890", "0.1234567891", "+7", "3.", ".5", "٣"]
    got = parse_numbers(pd.Series(text, dtype=object)).to_numpy()
    want = pd.to_numeric(pd.Series(text).str.replace(",", ""), errors="coerce").to_numpy(dtype=float)
    assert np.array_equal(got, want, equal_nan=True)
    rng = np.random.default_rng(3)  # plain decimals: Arrow's float is pandas' float, bit for bit
    plain = [f"{v:.{d}f}" for v, d in zip(rng.uniform(-1e6, 1e6, 5000), rng.integers(0, 7, 5000), strict=True)]
    got = parse_numbers(pd.Series(plain, dtype=object)).to_numpy()
    assert np.array_equal(got.view(np.int64), pd.to_numeric(pd.Series(plain)).to_numpy(dtype=float).view(np.int64))


def test_dates_in_every_style_of_the_contract():
    text = ["2020-12-11", "2020/1/5", "2020年12月17日", "20201211", "2020.3.4", "x", "", "2023-02-30", "2020-1-1"]
    got = parse_dates(pd.Series(text, dtype=object))
    want = ["2020-12-11", "2020-01-05", "2020-12-17", "2020-12-11", "2020-03-04", None, None, None, "2020-01-01"]
    assert [None if pd.isna(d) else str(d.date()) for d in got] == want


def test_key_set_membership_and_handover():
    import pickle

    from riskclass.arrowtext import KeySet

    keys = KeySet(pd.Series(["91A", "92B", "91A", None], dtype=object))
    assert len(keys) == 2  # distinct, missing values left out
    values = pd.Series(["92B", "91a", None, "91A", ""], dtype=object)
    assert keys.contains(values).tolist() == [True, False, False, True, False]
    assert pickle.loads(pickle.dumps(keys)).contains(values).tolist() == [True, False, False, True, False]


def test_parquet_parts_one_part_is_write_parquet_and_types_settle_on_later_parts(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from riskclass.io import ParquetParts, write_parquet

    frame = pd.DataFrame({"a": ["x", None], "b": [1.5, 2.0]})
    write_parquet(frame, tmp_path / "whole.parquet")
    one = ParquetParts(tmp_path / "one.parquet")
    one.write(frame)
    one.close()
    assert (tmp_path / "one.parquet").read_bytes() == (tmp_path / "whole.parquet").read_bytes()
    parts = ParquetParts(tmp_path / "parts.parquet")
    parts.write(pd.DataFrame({"a": [None], "b": [1.0]}))  # 'a' has no type yet (all empty)
    parts.write(pd.DataFrame({"a": [], "b": []}))  # no empty row group
    parts.write(pd.DataFrame({"a": ["y"], "b": [3.0]}))
    parts.close()
    table = pq.read_table(tmp_path / "parts.parquet")
    assert table.schema.field("a").type == pa.string()
    assert table.to_pydict() == {"a": [None, "y"], "b": [1.0, 3.0]}
    assert pq.ParquetFile(tmp_path / "parts.parquet").metadata.num_row_groups == 2
