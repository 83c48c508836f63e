"""Every CSV and Excel file riskclass writes goes through this module, so that it is safe to open in a spreadsheet.

Policy (OWASP "CSV injection"):

- **Text cells are neutralised.** A string cell, or a column name, that starts with ``=``, ``+``, ``-``, ``@``,
  a tab or a carriage return is written with a single quote ``'`` in front, so Excel, WPS and LibreOffice show it
  as text instead of evaluating it (``=HYPERLINK(...)``, ``+1+1``, ``@SUM(...)``, ``-2+3``). A string that
  already starts with quotes followed by one of those characters (``'=x``) gets one more quote, which makes the
  escaping reversible: :func:`restore` (and :func:`read_csv`) give back exactly the original text.
- **Only text is touched.** Columns of a numeric, boolean or datetime dtype are written as they are: a negative
  number column stays numeric (``-5`` opens as the number −5, which no spreadsheet evaluates as a formula). A
  *text* column holding ``"-5"`` is prefixed (``'-5``) like any other text: the value is text in the frame, the
  spreadsheet could evaluate text starting with ``-`` (``-2+3``), and telling a harmless number-like string from
  a formula is exactly the guess this policy refuses to make. Write numbers as numbers.
- **Excel files** are written by XlsxWriter with ``strings_to_formulas``, ``strings_to_urls`` and
  ``strings_to_numbers`` off (:data:`XLSX_OPTIONS`), so no string becomes a formula, a hyperlink or a number
  even before neutralisation; their cells are neutralised too, so a sheet copied or saved as CSV stays safe.
- **Deterministic bytes.** CSV: UTF-8 (with BOM by default, so Excel opens Chinese correctly), ``\\n`` line
  ends, no index, fields quoted only where needed — but every field when some text holds a carriage return
  (Python 3.11's csv writer leaves a bare CR unquoted under ``\\n`` line ends, and a reader would start a new
  row, with an unneutralised first cell, right there). Excel: the zip members carry XlsxWriter's fixed
  1980-01-01 timestamps and the document's created date is the one given (e.g. the plan's start), never the
  clock. Same frame → same bytes.
- **Atomic.** Files are written beside their target and renamed into place (:func:`riskclass.io.atomic_file`),
  so a reader never sees half a file. File permissions are not this module's business: files get the mode
  ``atomic_file`` gives them (riskclass.io's policy), and a caller that needs another mode sets it.

The escaping is vectorised (NumPy on the first character of each string; the regular expression only runs on
the rare strings starting with a quote): about 0.1 s per million-row text column.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from riskclass.io import atomic_file

__all__ = [
    "DANGEROUS",
    "XLSX_OPTIONS",
    "csv_bytes",
    "neutralise",
    "read_csv",
    "restore",
    "write_csv",
    "write_excel",
    "xlsx_bytes",
]

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")  # a cell starting with one of these may be evaluated
QUOTE = "'"
XLSX_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False, "in_memory": True}
PINNED_DATE = datetime(1980, 1, 1)  # XlsxWriter's zip timestamp; the created date when none is given
_ESCAPED = re.compile("^'*[=+\\-@\t\r]")  # what gets one more quote (quotes, then a dangerous character)
_RESTORABLE = re.compile("^'+[=+\\-@\t\r]")  # what neutralise() gave a quote (one quote comes off)


def _mask(values: np.ndarray, pattern: re.Pattern, firsts: tuple[str, ...], only_strings: bool) -> np.ndarray:
    """Elements that are strings matching ``pattern``, decided on the first character (NumPy, vectorised) and
    by the full pattern only for the rare strings that start with a quote.

    ``only_strings``: every element is a string or missing (None, NaN, NA), whose first character as text
    ('N', 'n', '<') can match neither a dangerous character nor a quote, so no per-element type check is needed.
    """
    if only_strings:
        is_str, strings = None, values
    else:
        is_str = np.fromiter((type(v) is str for v in values), dtype=bool, count=len(values))
        strings = values[is_str]
    first = strings.astype("U1")  # the first character of each ('' for an empty string)
    hit = np.zeros(len(strings), dtype=bool)
    for ch in firsts:
        hit |= first == ch
    quoted = np.flatnonzero(first == QUOTE)
    if len(quoted):
        hit[quoted] = [bool(pattern.match(s)) for s in strings[quoted]]
    if is_str is None:
        return hit
    out = np.zeros(len(values), dtype=bool)
    out[is_str] = hit
    return out


def _escape_mask(values: np.ndarray, only_strings: bool = False) -> np.ndarray:
    return _mask(values, _ESCAPED, DANGEROUS, only_strings)


def _restore_mask(values: np.ndarray, only_strings: bool = False) -> np.ndarray:
    return _mask(values, _RESTORABLE, (), only_strings)


def _is_text(dtype) -> bool:
    return pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)


def _strings_in(col: pd.Series) -> str | None:
    """For a text column that holds strings: "string" (strings and missing values only) or "mixed"; else None
    (numbers, booleans, dates, an object column of dates or decimals, all missing)."""
    if not _is_text(col.dtype):
        return None
    inferred = pd.api.types.infer_dtype(col, skipna=True)
    return inferred if inferred == "string" else "mixed" if inferred in ("mixed", "mixed-integer") else None


def _transform_values(values: np.ndarray, mask_of, change, only_strings: bool = False) -> np.ndarray | None:
    """``values`` with ``change`` applied where ``mask_of`` says so, or None when nothing changes."""
    mask = mask_of(values, only_strings)
    if not mask.any():
        return None
    out = values.copy()
    out[mask] = np.array([change(v) for v in values[mask]], dtype=object)
    return out


def _transform(frame: pd.DataFrame, mask_of, change) -> pd.DataFrame:
    out = frame.copy(deep=False)
    for i in range(frame.shape[1]):
        col = frame.iloc[:, i]
        if isinstance(col.dtype, pd.CategoricalDtype):
            cats = col.cat.categories
            if _is_text(cats.dtype):
                new = _transform_values(cats.to_numpy(dtype=object), mask_of, change)
                if new is not None:
                    out.isetitem(i, col.cat.rename_categories(list(new)))
            continue
        kind = _strings_in(col)
        if kind is None:
            continue  # numbers, booleans, dates (and text columns without strings): never touched
        values = col.to_numpy() if pd.api.types.is_object_dtype(col) else col.to_numpy(dtype=object, na_value=None)
        new = _transform_values(values, mask_of, change, only_strings=kind == "string")
        if new is not None:
            out.isetitem(i, pd.Series(new, index=col.index, name=col.name).astype(col.dtype))
    if not isinstance(out.columns, pd.MultiIndex):
        names = _transform_values(np.asarray(out.columns, dtype=object), mask_of, change)
        if names is not None:
            out.columns = pd.Index(names, dtype=object)
    return out


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names cannot be evaluated by a spreadsheet.

    Every string (in object, string or categorical columns, and every column name) that starts with ``=``,
    ``+``, ``-``, ``@``, tab or carriage return — or with quotes followed by one of them — gets a ``'`` in
    front. Numeric, boolean and datetime columns are returned unchanged (see the module's policy).
    """
    return _transform(frame, _escape_mask, lambda s: QUOTE + s)


def restore(frame: pd.DataFrame) -> pd.DataFrame:
    """The inverse of :func:`neutralise` for frames read back from our own files: drop the added quote."""
    return _transform(frame, _restore_mask, lambda s: s[1:])


def _holds_carriage_return(frame: pd.DataFrame) -> bool:
    """Whether a text cell or a column name holds a carriage return."""
    if any(isinstance(c, str) and "\r" in c for c in frame.columns):
        return True
    for i in range(frame.shape[1]):
        col = frame.iloc[:, i]
        if isinstance(col.dtype, pd.CategoricalDtype):
            col = pd.Series(col.cat.categories)
        if _strings_in(col) and col.str.contains("\r", regex=False, na=False).any():
            return True
    return False


def csv_bytes(frame: pd.DataFrame, *, bom: bool = True) -> bytes:
    """The bytes :func:`write_csv` writes.

    Fields are quoted only where needed — except that a carriage return in any text cell quotes every field of
    the file: Python 3.11's csv writer does not quote a bare CR when lines end in ``\\n``, and spreadsheets and
    parsers would break the row there, turning the rest of the cell into a new row's first cell (unneutralised).
    """
    safe = neutralise(frame)
    quoting = csv.QUOTE_ALL if _holds_carriage_return(safe) else csv.QUOTE_MINIMAL
    text = safe.to_csv(index=False, lineterminator="\n", quoting=quoting)
    return ("\ufeff" if bom else "").encode("utf-8") + text.encode("utf-8")


def write_csv(frame: pd.DataFrame, path: Path, *, bom: bool = True, private: bool = False) -> None:
    """Write ``frame`` neutralised, UTF-8 (with BOM unless ``bom=False``), ``\\n`` line ends, no index, atomically.

    ``private``: owner-only (0600) instead of the default 0640 (io.py permission policy).
    """
    with atomic_file(Path(path), private=private) as tmp:
        tmp.write_bytes(csv_bytes(frame, bom=bom))


def read_csv(path: Path, **kwargs) -> pd.DataFrame:
    """Read back a CSV this module wrote (all text, empty cells as ``""``), with the neutralising quotes removed."""
    options = {"dtype": str, "encoding": "utf-8-sig", "keep_default_na": False, **kwargs}
    return restore(pd.read_csv(path, **options))


def xlsx_bytes(
    sheets: dict[str, pd.DataFrame],
    *,
    created: datetime | pd.Timestamp | None = None,
    title: str | None = None,
    print_header: str | None = None,
) -> bytes:
    """An .xlsx with one sheet per entry (in order), neutralised, formula/URL/number conversion off.

    ``created`` is the document date (default 1980-01-01; never the clock); ``title`` goes to the document
    properties and ``print_header`` to the centre of every printed page's header (e.g. a confidentiality mark).
    """
    when = pd.Timestamp(created or PINNED_DATE).to_pydatetime()
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="xlsxwriter", engine_kwargs={"options": dict(XLSX_OPTIONS)}) as writer:
        properties = {"created": when, "author": "riskclass"}
        if title:
            properties["title"] = title
        writer.book.set_properties(properties)
        for name, frame in sheets.items():
            neutralise(frame).to_excel(writer, sheet_name=name, index=False)
            if print_header:
                writer.sheets[name].set_header("&C" + print_header.replace("&", "&&"))
    return buffer.getvalue()


def write_excel(
    sheets: dict[str, pd.DataFrame],
    path: Path,
    *,
    created: datetime | pd.Timestamp | None = None,
    title: str | None = None,
    print_header: str | None = None,
) -> None:
    """Write :func:`xlsx_bytes` to ``path`` atomically."""
    data = xlsx_bytes(sheets, created=created, title=title, print_header=print_header)
    with atomic_file(Path(path)) as tmp:
        tmp.write_bytes(data)
