"""The shared part of the domain graders (通用+专业): points tables declared in YAML, scoring, bands, reasons.

A points table (``resources/domains/<domain>.yaml``) lists indicators, each in a component with a most-points
cap, of one of four kinds:

- ``flag``       a true value scores ``points``
- ``count``      ``points`` per occurrence, at most ``cap``
- ``threshold``  ``steps`` [[at least, points], …]: the points of the highest step reached
- ``lookup``     ``points`` by value (a static level, a general class)

A domain module computes one value per indicator and entity (point-in-time: records known by the month
end); :func:`score` turns them into points per component, the total and the reasons a reader sees.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from riskclass.codes import CLASSES

DOMAINS = ("food", "drug_retail", "special_equipment")


class PointsTableError(ValueError):
    """A points table that cannot be used; the message names the file and every problem."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Component(_Model):
    label: str = Field(min_length=1)
    max: float = Field(gt=0)


class Indicator(_Model):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    component: str
    label: str = Field(min_length=1)
    kind: Literal["flag", "count", "threshold", "lookup"]
    points: float | dict[str, float] | None = None
    cap: float | None = Field(default=None, gt=0)
    steps: list[tuple[float, float]] | None = None

    @model_validator(mode="after")
    def _shape(self) -> Indicator:
        need_number = self.kind in ("flag", "count")
        if need_number and not isinstance(self.points, int | float):
            raise ValueError(f"{self.id}: a {self.kind} indicator needs a number of points")
        if self.kind == "lookup" and not isinstance(self.points, dict):
            raise ValueError(f"{self.id}: a lookup indicator needs points by value")
        if self.kind == "threshold":
            if not self.steps:
                raise ValueError(f"{self.id}: a threshold indicator needs steps [[at least, points], …]")
            if [s[0] for s in self.steps] != sorted({s[0] for s in self.steps}):
                raise ValueError(f"{self.id}: steps must have strictly increasing thresholds")
        if self.cap is not None and self.kind != "count":
            raise ValueError(f"{self.id}: only a count indicator takes a cap")
        return self

    @property
    def most(self) -> float:
        """The most points this indicator can give."""
        if self.kind == "flag":
            return float(self.points)
        if self.kind == "count":
            return float(self.cap) if self.cap is not None else float("inf")
        if self.kind == "lookup":
            return float(max(self.points.values()))
        return float(max(p for _, p in self.steps))


Grade = Literal["A", "B", "C", "D"]


class PointsTable(_Model):
    domain: Literal[DOMAINS]
    label: str
    window_months: int = Field(ge=1, le=60)
    components: dict[str, Component]
    indicators: list[Indicator] = Field(min_length=1)
    bands: dict[Grade, float] | None = None
    matrix: dict[str, dict[Grade, Grade]] | None = None
    escalate: list[tuple[float, int]] | None = None
    serious_violation_grade: Grade
    always_key: dict | None = None
    inspection_interval_months: dict[str, int] | None = None
    min_checks_per_year: dict[Grade, float | Literal["full"]]

    @model_validator(mode="after")
    def _consistent(self) -> PointsTable:
        problems = []
        ids = [i.id for i in self.indicators]
        if len(set(ids)) != len(ids):
            problems.append(f"duplicate indicator ids {sorted({i for i in ids if ids.count(i) > 1})}")
        for ind in self.indicators:
            if ind.component not in self.components:
                problems.append(f"{ind.id}: unknown component {ind.component!r} (have {sorted(self.components)})")
        if self.bands is not None and (
            list(self.bands) != ["A", "B", "C"] or list(self.bands.values()) != sorted(self.bands.values())
        ):
            problems.append("bands must give increasing upper bounds for A, B and C (above C: D)")
        if (self.bands is None) == (self.matrix is None):
            problems.append("give exactly one of bands (points → grade) or matrix (group × general class)")
        if self.matrix is not None:
            for group, row in self.matrix.items():
                if sorted(row) != list(CLASSES):
                    problems.append(f"matrix.{group}: needs a grade for each general class A–D")
        if sorted(self.min_checks_per_year) != list(CLASSES):
            problems.append("min_checks_per_year needs all four grades (no grade is exempt: 不免抽)")
        total = sum(c.max for c in self.components.values())
        if self.bands is not None and total != 100:
            problems.append(f"components must add up to 100 points, they add up to {total:g}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def indicator(self, ident: str) -> Indicator:
        return next(i for i in self.indicators if i.id == ident)


def parse_table(data: dict, source: str) -> PointsTable:
    """Validate a points table, raising :class:`PointsTableError` naming ``source`` and each problem."""
    try:
        return PointsTable.model_validate(data)
    except ValidationError as exc:
        lines = [f"{'.'.join(map(str, e['loc'])) or '(table)'}: {e['msg']}" for e in exc.errors()]
        raise PointsTableError(f"points table {source} is invalid:\n  " + "\n  ".join(lines)) from None


@cache
def points_table(domain: str) -> PointsTable:
    """The packaged points table of a domain, validated."""
    if domain not in DOMAINS:
        raise PointsTableError(f"unknown domain {domain!r}; the domains are {', '.join(DOMAINS)}")
    name = f"resources/domains/{domain}.yaml"
    return parse_table(yaml.safe_load(resources.files("riskclass").joinpath(name).read_text(encoding="utf-8")), name)


def score(table: PointsTable, values: pd.DataFrame) -> pd.DataFrame:
    """Points per component and in total for each row of ``values`` (one column per indicator id), with the
    reasons: ``label（value）+points`` of each indicator that scored, components clipped to their maximum."""
    missing = [i.id for i in table.indicators if i.id not in values.columns]
    if missing:
        raise ValueError(f"{table.domain}: indicator values missing for {missing}")
    n = len(values)
    per_ind = {}
    for ind in table.indicators:
        v = values[ind.id]
        if ind.kind == "flag":
            pts = np.where(v.fillna(False).astype(bool), float(ind.points), 0.0)
        elif ind.kind == "count":
            pts = v.fillna(0).to_numpy(dtype=float) * float(ind.points)
            if ind.cap is not None:
                pts = np.minimum(pts, ind.cap)
        elif ind.kind == "lookup":
            pts = v.astype(object).map(ind.points).fillna(0.0).to_numpy(dtype=float)
        else:
            x = v.fillna(-np.inf).to_numpy(dtype=float)
            pts = np.zeros(n)
            for at_least, p in ind.steps:
                pts = np.where(x >= at_least, float(p), pts)
        per_ind[ind.id] = pts
    out = pd.DataFrame(index=values.index)
    total = np.zeros(n)
    for name, comp in table.components.items():
        raw = sum((per_ind[i.id] for i in table.indicators if i.component == name), np.zeros(n))
        out[f"points_{name}"] = np.minimum(raw, comp.max)
        total += out[f"points_{name}"].to_numpy()
    out["points"] = total
    out["reasons"] = _reasons(table, values, per_ind, n)
    return out


def _reasons(table: PointsTable, values: pd.DataFrame, per_ind: dict, n: int) -> list[str]:
    parts: list[list[str]] = [[] for _ in range(n)]
    for ind in table.indicators:
        pts = per_ind[ind.id]
        shown = values[ind.id].astype(object).to_numpy()
        for i in np.flatnonzero(pts > 0):
            v = shown[i]
            v = f"{v:.0%}" if isinstance(v, float) and 0 < v < 1 else (f"{v:g}" if isinstance(v, float) else v)
            value = "" if ind.kind == "flag" else f"（{v}）"
            parts[i].append(f"{ind.label}{value}+{pts[i]:g}")
    return ["；".join(p) for p in parts]


def band(table: PointsTable, points: np.ndarray) -> np.ndarray:
    """Grade by points: the first grade whose upper bound (inclusive) the points do not exceed, else D."""
    bounds = np.array(list(table.bands.values()), dtype=float)
    idx = np.searchsorted(bounds, np.asarray(points, dtype=float), side="left")
    return np.array(CLASSES, dtype=object)[idx]


def raise_grade(grades: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Grades moved ``steps`` up (toward D), capped at D."""
    order = {c: k for k, c in enumerate(CLASSES)}
    k = np.array([order[g] for g in grades], dtype=int) + np.asarray(steps, dtype=int)
    return np.array(CLASSES, dtype=object)[np.minimum(k, len(CLASSES) - 1)]


SERIOUS_OVERRIDE = "列入严重违法失信名单"


def graded(
    rows: pd.DataFrame,
    table: PointsTable,
    points: np.ndarray,
    points_grade: np.ndarray,
    reasons,
    always_key=False,
    key_reasons="",
) -> pd.DataFrame:
    """A domain's output rows: the grade by points, set to the table's top grade for an entity on the serious-
    violation list (``rows.serious_listed``), with the reasons."""
    serious = rows["serious_listed"].to_numpy() > 0
    return pd.DataFrame(
        {
            "uscc": rows["uscc"],
            "group": rows["group"],
            "general_class": rows["general_class"],
            "points": points,
            "points_grade": points_grade,
            "grade": np.where(serious, table.serious_violation_grade, points_grade),
            "override": np.where(serious, SERIOUS_OVERRIDE, ""),
            "always_key": always_key,
            "key_reasons": key_reasons,
            "reasons": reasons,
        }
    )
