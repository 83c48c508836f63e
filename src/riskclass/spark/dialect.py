"""DuckDB SQL → Spark SQL: sqlglot's translation plus the rewrite rules that keep DuckDB's results.

The indicator definitions (indicators.yaml), the staging and as-of views (indicators/sources.py) and the month
query (indicators/builder.py) are written once, in DuckDB SQL; Spark runs their mechanical translation.
sqlglot covers the dialect (``date_diff`` → ``DATEDIFF``, ``VARCHAR`` → ``STRING``, ``TIMESTAMP`` →
``TIMESTAMP_NTZ``, quoted identifiers → back-ticks). Two constructs mean different things on the two engines,
and each has one rule here instead of a second copy of any definition:

1. **Decimal literals are DOUBLE.** DuckDB types ``1.0`` as DECIMAL but its arithmetic and ``AVG`` on it yield
   DOUBLE (``AVG(1.0 * x)``, ``COUNT(…) / 3.0``). Spark keeps DECIMAL, and ``AVG`` of a DECIMAL(p, 1) is rounded
   to 5 places (a share of 1/3 would be 0.33333). Every literal with a point or an exponent becomes
   ``CAST('…' AS DOUBLE)``.
2. **ROUND(x, n) of a DOUBLE is DuckDB's.** DuckDB rounds the exact binary value of ``x`` half away from zero;
   Spark rounds the shortest decimal text of ``x`` (``Double.toString``). They differ when that text ends in a
   5 just after the n-th decimal (about 4 values in 10,000 of random doubles in the thousands at n = 10). The
   rule calls ``riskclass_round`` instead, a vectorised session function (``register_functions``) computing
   DuckDB's rounding in double arithmetic (``duckdb_round``: Dekker's exact product decides the ties), so the
   month files agree to the bit. (The same arithmetic inlined as SQL is correct too but 125 such expressions
   in one projection leave Spark's code generation and run minutes slower.)
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import sqlglot
from sqlglot import exp


def _double(literal: exp.Literal) -> exp.Expression:
    return exp.Cast(this=exp.Literal.string(literal.this), to=exp.DataType.build("DOUBLE"))


def _is_decimal(node: exp.Expression) -> bool:
    return isinstance(node, exp.Literal) and not node.is_string and any(ch in node.this for ch in ".eE")


ROUND_FUNCTION = "riskclass_round"  # the session function rule 2 calls (registered by register_functions)
_SPLITTER = 134217729.0  # 2**27 + 1: Veltkamp's split
_NO_FRACTION = 2.0**52  # from here on every double is an integer: no ties


def duckdb_round(x: np.ndarray, digits: int) -> np.ndarray:
    """DuckDB's ROUND(x, digits) of DOUBLE values: the exact binary value rounded half away from zero.

    p = x·10ⁿ in floating point is off from the exact product by e, which Dekker's product gives exactly; p
    lands on a tie k + ½ only through that error now and then, and the sign of e then says which way the
    exact value lies. Elsewhere the nearest integer to p is the nearest to the exact product, and the quotient
    by 10ⁿ (an exact double) is correctly rounded: the double nearest to the rounded decimal, as DuckDB's.
    """
    x = np.asarray(x, dtype=float)
    scale = 10.0**digits
    t = _SPLITTER * scale
    s_hi = t - (t - scale)
    s_lo = scale - s_hi
    with np.errstate(invalid="ignore", over="ignore"):  # huge and non-finite values fall back to x below
        p = x * scale
        t = _SPLITTER * x
        x_hi = t - (t - x)
        x_lo = x - x_hi
        e = ((x_hi * s_hi - p) + x_hi * s_lo + x_lo * s_hi) + x_lo * s_lo
        floor = np.floor(p)
        tie = (np.abs(p) < _NO_FRACTION) & (p - floor == 0.5)
        up = (e > 0) | ((e == 0) & (p > 0))  # a tie goes away from zero unless the exact value lies below it
        rounded = np.where(tie, np.where(up, floor + 1, floor), np.rint(p)) / scale
    return np.where(np.isfinite(rounded), rounded, x)  # DuckDB returns the input where rounding overflows


def register_functions(spark) -> None:
    """The session function of rule 2: ``riskclass_round(x DOUBLE, digits INT)`` (vectorised, Arrow batches)."""
    from pyspark.sql.functions import pandas_udf

    @pandas_udf("double")
    def riskclass_round(x: pd.Series, digits: pd.Series) -> pd.Series:
        n = int(digits.iloc[0]) if len(digits) else 0
        return pd.Series(duckdb_round(x.to_numpy(dtype=float, na_value=np.nan), n), index=x.index)

    spark.udf.register(ROUND_FUNCTION, riskclass_round)


def _round(node: exp.Expression) -> exp.Expression:
    """Rule 2: ROUND(x, n) with n > 0 → riskclass_round(x, n)."""
    if not isinstance(node, exp.Round) or node.args.get("decimals") is None:
        return node
    if int(node.args["decimals"].name) <= 0:
        return node
    return exp.Anonymous(this=ROUND_FUNCTION, expressions=[node.this, node.args["decimals"]])


@functools.lru_cache(maxsize=4096)
def to_spark(sql: str) -> str:
    """One DuckDB statement or query as Spark SQL (the rules of the module docstring applied)."""
    tree = sqlglot.parse_one(sql, read="duckdb").transform(_round)
    tree = tree.transform(lambda n: _double(n) if _is_decimal(n) else n)  # rule 1
    return tree.sql(dialect="spark")
