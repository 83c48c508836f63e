"""Reference code lists (GB/T 4754, GB/T 2260, USCC entity types, 双随机 result codes, ...).

The lists live in ``resources/codes.yaml`` so that reviewers read data, not code. Every lookup the
contract, the ingest rules and the synthetic city need goes through this module.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np
import pandas as pd
import yaml

# the four credit-risk classes, low to high (domain.md §3)
CLASSES = ("A", "B", "C", "D")


@cache
def code_lists() -> dict:
    """All code lists, as loaded from the packaged ``codes.yaml``."""
    text = resources.files("riskclass").joinpath("resources/codes.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def labels(list_name: str) -> dict[str, str]:
    """Code → Chinese label for a code list (entries may be plain labels or dicts with ``name``)."""
    entries = code_lists()[list_name]
    return {str(k): (v["name"] if isinstance(v, dict) else str(v)) for k, v in entries.items()}


# entity types (USCC 91 / 92 / 93) in code-list order
ENTITY_TYPES = ("enterprise", "individual", "cooperative")


def entity_types_of(frame: pd.DataFrame) -> np.ndarray:
    """Each row's entity type read off the indicator snapshot's one-hot type indicators (``BAS.TYPE.*``)."""
    return np.select(
        [frame["BAS.TYPE.enterprise"] == 1, frame["BAS.TYPE.individual"] == 1],
        ["enterprise", "individual"],
        "cooperative",
    ).astype(object)


@cache
def industry_division_sections() -> dict[str, str]:
    """Two-digit GB/T 4754 division → its section letter."""
    mapping = {}
    for section, spec in code_lists()["industry_sections"].items():
        lo, hi = (int(x) for x in spec["divisions"])
        for div in range(lo, hi + 1):
            mapping[f"{div:02d}"] = section
    return mapping


def valid_industry_codes(codes: pd.Series) -> np.ndarray:
    """True where a code is a section letter followed by 2–4 digits whose division lies in that section.

    Vectorised over unique values: real registries repeat a few hundred codes millions of times.
    """
    div_sections = industry_division_sections()
    uniques = pd.unique(codes.astype("string").fillna(""))
    ok = {}
    for code in uniques:
        ok[code] = (
            len(code) in (3, 4, 5)
            and code[0] in "ABCDEFGHIJKLMNOPQRST"
            and code[1:].isdigit()
            and div_sections.get(code[1:3]) == code[0]
        )
    return codes.astype("string").fillna("").map(ok).to_numpy(dtype=bool)


def inspection_problem_codes() -> list[str]:
    """Result codes meaning the check found a problem (including problems corrected on order)."""
    return [
        code
        for code, spec in code_lists()["inspection_results"].items()
        if spec["category"] in ("problem", "corrected")
    ]


def found_problem(result_codes: pd.Series) -> pd.Series:
    """True where an inspection result code means a problem was found (see ``inspection_problem_codes``)."""
    return result_codes.isin(inspection_problem_codes())
