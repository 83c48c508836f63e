"""Annual reports (年报): due 1 Jan – 30 Jun for the year before; entities missing one are listed in July
(reason 1); late filers file every missing year at once, which lifts their reason-1/2 listings."""

from __future__ import annotations

import numpy as np

from riskclass.synth.state import CityState, sigmoid
from riskclass.synth.streams.listings import add_listings, remove_listings


def annual_reports(s: CityState, alive: np.ndarray, rel: np.ndarray, t: int) -> None:
    rng, cal, n = s.rng, s.cal, s.reg.n
    year, cm = cal.year(t), cal.calendar_month(t)
    est = s.reg.cols["established_date"]
    unfiled = s.missing_years != 0
    if cm == 6:  # reports for last year, due 1 Jan – 30 Jun
        report_year = year - 1
        due = alive & (est < np.datetime64(f"{year}-01-01"))
        ev = s.ev
        logit = (
            ev["annual_report_on_time_logit"]
            - ev["annual_report_risk_slope"] * rel
            - 2.5 * s.is_shell
            - 1.5 * unfiled
            - ev["annual_report_violation_effect"] * s.V
        )
        filed = due & (rng.random(n) < sigmoid(logit))
        idx = np.flatnonzero(filed)
        days = np.minimum(rng.beta(3, 1.5, len(idx)) * 181, 180).astype(int)
        _report_rows(s, idx, report_year, np.datetime64(f"{year}-01-01") + days.astype("timedelta64[D]"))
        s.missing_years[due & ~filed] |= 1 << (report_year - s.base_year)
    if cm == 7:  # listed within 10 working days after 30 June: one listing per missing report year
        missed_last_year = (s.missing_years >> (year - 1 - s.base_year)) & 1 == 1
        idx = np.flatnonzero(alive & missed_last_year)
        add_listings(
            s,
            idx,
            np.full(len(idx), "1", dtype=object),
            np.datetime64(f"{year}-07-01") + rng.integers(1, 14, len(idx)).astype("timedelta64[D]"),
        )
    # late filing: an entity files every missing year at once, which lifts its reason-1/2 listings
    p_late = s.ev["late_filing_monthly_prob"] * np.exp(-0.5 * rel)
    late = alive & (s.missing_years != 0) & (rng.random(n) < p_late)
    idx = np.flatnonzero(late)
    if not len(idx):
        return
    dates = cal.random_day(rng, t, len(idx))
    for k in range(64):
        m = (s.missing_years[idx] >> k) & 1 == 1
        if m.any():
            _report_rows(s, idx[m], s.base_year + k, dates[m])
    s.missing_years[idx] = 0
    hit = s.l_open & np.isin(s.l_entity, idx) & np.isin(s.l_reason, ["1", "2"])
    when = dict(zip(idx, dates, strict=True))
    remove_listings(
        s,
        hit,
        np.array([when[e] for e in s.l_entity[hit]], dtype="datetime64[D]")
        + rng.integers(1, 10, hit.sum()).astype("timedelta64[D]"),
        "report_filed",
    )


def _report_rows(s: CityState, idx: np.ndarray, report_year: int, dates: np.ndarray) -> None:
    rng = s.rng
    c = s.reg.cols
    zero = rng.random(len(idx)) < np.where(
        s.is_shell[idx], s.ev["all_zero_prob"]["shell"], s.ev["all_zero_prob"]["other"]
    )
    scale = np.maximum(s.capital[idx], 1) ** 0.6 * np.maximum(c["employees"][idx], 1) ** 0.5
    revenue = np.round(scale * np.exp(1.0 + 0.8 * rng.standard_normal(len(idx))), 2)
    assets = np.round(revenue * rng.uniform(0.5, 2.5, len(idx)), 2)
    liabilities = np.round(assets * rng.beta(2, 2.5, len(idx)), 2)
    profit = np.round(revenue * rng.normal(0.04, 0.12, len(idx)), 2)
    tax = np.round(np.maximum(revenue * rng.uniform(0.005, 0.06, len(idx)), 0), 2)
    staff = np.round(c["employees"][idx] * rng.uniform(0.4, 1.0, len(idx)))
    for arr in (revenue, assets, liabilities, profit, tax, staff):
        arr[zero] = 0.0
    s.logs["annual_reports"].add(
        entity=idx,
        report_year=np.full(len(idx), report_year),
        filing_date=dates,
        revenue=revenue,
        total_assets=assets,
        total_liabilities=liabilities,
        net_profit=profit,
        tax_paid=tax,
        insured_employees=staff.astype(int),
        all_zero=zero,
    )
