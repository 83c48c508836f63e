"""Monthly simulation of the synthetic city: latent risk, true violations and every event stream.

Per entity i and month t (logit scale):

    r[i,t] = base[i] + young · (age at t < 2 years) + a[i,t] + contagion · (share of related entities violating at t-1)
             + penalty_history · log(1 + penalties so far)
    a[i,t] = ρ · a[i,t-1] + ε,   ε ~ N(0, σ²)                       (slow drift)
    P(violating[i,t]) = sigmoid(r[i,t] + persistence · violating[i,t-1])

Violations exist whether or not anyone looks. Complaints, penalties, listings, debtor records,
changes and honours are drawn from r and the violation state; inspections reveal the state only
for the entities drawn, under a 双随机 policy whose inclusion probabilities are recorded.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from rich.progress import Progress

from riskclass import codes
from riskclass.synth.calendar import Calendar
from riskclass.synth.city import Registry, person_keys
from riskclass.synth.events import EventLog

NAT = np.datetime64("NaT", "D")
# tables whose rows the monthly simulation emits as events (the rest are built from final state)
EVENT_TABLES = (
    "changes",
    "annual_reports",
    "equity_actions",
    "penalties",
    "dishonest_debtors",
    "credit_repairs",
    "inspections",
    "complaints",
    "public_opinion",
    "honours",
)
_DAY = np.timedelta64(1, "D")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _violation_type(rng, n, food, drug, special, sections, shell) -> np.ndarray:
    general = np.array(
        [
            "registration",
            "false_advertising",
            "product_quality",
            "consumer_rights",
            "price",
            "unlicensed",
            "trademark",
            "other",
        ],
        dtype=object,
    )
    out = general[rng.choice(len(general), n, p=[0.32, 0.14, 0.14, 0.16, 0.08, 0.06, 0.05, 0.05])]
    u = rng.random(n)
    out[food & (u < 0.5)] = "food_safety"
    out[drug & (u < 0.5)] = "drug_safety"
    out[special & ~food & ~drug & (u < 0.35)] = "special_equipment"
    out[~np.isin(sections, ["C", "F"]) & (out == "product_quality")] = "consumer_rights"
    out[shell] = "registration"
    return out


# result code of a detected violation, by violation type: (codes, probabilities)
RESULT_BY_TYPE = {
    "registration": (["B", "C", "6", "D", "E", "8"], [0.35, 0.12, 0.25, 0.13, 0.13, 0.02]),
    "food_safety": (["3", "E", "D"], [0.65, 0.3, 0.05]),
    "drug_safety": (["3", "E"], [0.7, 0.3]),
    "special_equipment": (["4", "E", "5"], [0.6, 0.3, 0.1]),
    "product_quality": (["4", "E", "D"], [0.6, 0.3, 0.1]),
    "default": (["D", "5", "E", "G", "B"], [0.45, 0.15, 0.3, 0.03, 0.07]),
}
DISPOSITION = {
    "1": "none",
    "F": "routine",
    "7": "routine",
    "6": "routine",
    "E": "correct",
    "8": "case_lead",
    "3": "notify",
    "4": "notify",
    "5": "notify",
    "G": "notify",
}


class CitySimulation:
    def __init__(self, reg: Registry, sp: dict, cal: Calendar, rng: np.random.Generator):
        self.reg, self.sp, self.cal, self.rng = reg, sp, cal, rng
        self.risk, self.ev, self.insp = sp["risk"], sp["events"], sp["inspections"]
        n = reg.n
        c = reg.cols
        self.sections = np.array([x[0] for x in c["industry_code"]], dtype=object)
        self.etype = c["entity_type"]
        self.is_shell = reg.shell_cluster >= 0
        self.exited = reg.closed_before_window.copy()
        self.status = c["status"].copy()
        self.status_date = c["status_date"].copy()
        self.capital = c["registered_capital"].astype(float).copy()
        self.legal_rep = reg.legal_rep.copy()
        self.n_pen = np.zeros(n)
        self.last_pen_t = np.full(n, -999)
        self.subst = np.zeros((12, n), dtype=np.int8)  # substantiated complaints, ring buffer by month
        self.any_complaint = np.zeros((12, n), dtype=np.int8)
        self.missing_years = np.zeros(n, dtype=np.int64)  # bit k set: report for year base_year + k not filed
        self.base_year = cal.year(0) - 5
        self.vtype = np.full(n, "other", dtype=object)
        self.debtor_open = np.zeros(n, dtype=bool)
        self.debtor_end_t = np.full(n, 10**6)
        self.serious_open = np.zeros(n, dtype=bool)
        self.pending_penalty_t = np.full(n, -1)  # month a case transferred by an inspection is decided
        self.repaired_serious: dict[str, np.datetime64] = {}  # serious listing id → credit-repair date
        self.repaired_penalties: set[str] = set()
        # abnormal listings as parallel arrays (small relative to n)
        self.l_entity = np.zeros(0, dtype=np.int64)
        self.l_reason = np.zeros(0, dtype=object)
        self.l_date = np.zeros(0, dtype="datetime64[D]")
        self.l_open = np.zeros(0, dtype=bool)
        self.l_removal_date = np.zeros(0, dtype="datetime64[D]")
        self.l_removal_reason = np.zeros(0, dtype=object)
        self.serious = EventLog()
        self.logs = {name: EventLog() for name in EVENT_TABLES}
        self.role_changes = EventLog()
        self.truth = EventLog()
        self.seq = {
            name: 0 for name in ("pen", "abn", "ser", "dd", "cr", "jc", "cmp", "op", "hon", "chg", "eq", "lic", "role")
        }
        # degree in the relation graph, for the share of related entities violating
        inc = reg.relation_incidence
        self.inc, self.inc_t = inc, inc.T.tocsr()
        self.k = np.asarray(inc.sum(axis=1)).ravel()
        self.deg = np.asarray(inc @ (self.inc_t @ np.ones(n))).ravel() - self.k
        ar_sd = self.risk["ar_sd"] / np.sqrt(1 - self.risk["ar_rho"] ** 2)
        self.a = ar_sd * rng.standard_normal(n)
        self.V = np.zeros(n, dtype=bool)
        self.established_t = reg.established_t

    # ------------------------------------------------------------------ helpers
    def _ids(self, key: str, n: int, fmt: str, year: int) -> np.ndarray:
        start = self.seq[key]
        self.seq[key] += n
        return np.array([fmt.format(year=year, seq=s) for s in range(start + 1, start + n + 1)], dtype=object)

    def _related_violating_share(self) -> np.ndarray:
        v = self.V.astype(float)
        s = np.asarray(self.inc @ (self.inc_t @ v)).ravel() - self.k * v
        return np.divide(s, self.deg, out=np.zeros_like(s), where=self.deg > 0)

    def _risk(self, t: int) -> np.ndarray:
        """Latent risk in month ``t``; the young-entity effect uses each entity's age in that month."""
        young = (t - self.established_t) < 24
        return (
            self.reg.base_risk
            + self.risk["young_effect"] * young
            + self.a
            + self.risk["contagion"] * self._related_violating_share()
            + self.risk["penalty_history"] * np.log1p(self.n_pen)
        )

    def _clip(self, dates: np.ndarray) -> np.ndarray:
        return np.minimum(dates, self.cal.snapshot_date)

    # ------------------------------------------------------------------ initial state
    def initialise(self) -> None:
        rng, cal = self.rng, self.cal
        alive0 = (self.established_t <= -6) & ~self.exited
        for _ in range(12):  # burn the violation chain in to its stationary state
            p = _sigmoid(self._risk(-1) + self.risk["persistence"] * self.V)
            self.V = alive0 & (rng.random(self.reg.n) < p)
        self.vtype[self.V] = self._vtypes(np.flatnonzero(self.V))
        # standing abnormal listings carried into the window (some old enough to escalate in it)
        weight = np.exp(self.reg.base_risk - self.reg.base_risk[alive0].mean())
        p = np.clip(self.ev["pre_window_abnormal_share"] * weight, 0, 0.9) * alive0
        idx = np.flatnonzero(rng.random(self.reg.n) < p)
        age_days = rng.integers(40, 5 * 365, len(idx))
        list_date = cal.window_start - age_days.astype("timedelta64[D]")
        est = self.reg.cols["established_date"][idx]
        ok = list_date > est + 365
        idx, list_date = idx[ok], list_date[ok]
        reason = np.where(rng.random(len(idx)) < 0.75, "1", "4").astype(object)
        self._add_listings(idx, reason, list_date)
        self.missing_years[idx[reason == "1"]] |= 1 << (cal.year(0) - 1 - self.base_year)
        self._escalate(before=cal.window_start)

    def _vtypes(self, idx: np.ndarray) -> np.ndarray:
        c = self.reg.cols
        return _violation_type(
            self.rng,
            len(idx),
            c["food_licensed"][idx],
            c["drug_licensed"][idx],
            c["special_equipment"][idx],
            self.sections[idx],
            self.is_shell[idx],
        )

    def _add_listings(self, idx: np.ndarray, reason: np.ndarray, dates: np.ndarray) -> None:
        self.l_entity = np.r_[self.l_entity, idx]
        self.l_reason = np.r_[self.l_reason, reason]
        self.l_date = np.r_[self.l_date, dates]
        self.l_open = np.r_[self.l_open, np.ones(len(idx), dtype=bool)]
        self.l_removal_date = np.r_[self.l_removal_date, np.full(len(idx), NAT)]
        self.l_removal_reason = np.r_[self.l_removal_reason, np.full(len(idx), None, dtype=object)]

    def _remove_listings(self, mask: np.ndarray, dates: np.ndarray, reason: str) -> None:
        self.l_open[mask] = False
        self.l_removal_date[mask] = self._clip(np.maximum(dates, self.l_date[mask]))
        self.l_removal_reason[mask] = reason

    def _escalate(self, before: np.datetime64) -> None:
        """Listed three years without resolving → serious-violation list (严重违法失信名单)."""
        due = self.l_date + np.timedelta64(3 * 365 + 1, "D")
        hit = self.l_open & (due <= before)
        if not hit.any():
            return
        ent, dates = self.l_entity[hit], due[hit]
        self._remove_listings(hit, dates, "expired_to_serious")
        first = ~pd.Series(ent).duplicated().to_numpy() & ~self.serious_open[ent]
        ent, dates = ent[first], dates[first]
        self.serious_open[ent] = True
        years = dates.astype("datetime64[Y]").astype(int) + 1970
        for y in np.unique(years):
            m = years == y
            self.serious.add(
                entity=ent[m],
                reason=np.full(m.sum(), "abnormal_3y", dtype=object),
                list_date=dates[m],
                listing_id=self._ids("ser", int(m.sum()), "湛市监严〔{year}〕{seq}号", y),
            )

    # ------------------------------------------------------------------ one month
    def step(self, t: int) -> None:
        rng, cal, ev, n = self.rng, self.cal, self.ev, self.reg.n
        year, cm = cal.year(t), cal.calendar_month(t)
        alive = (self.established_t <= t) & ~self.exited
        r = self._risk(t)
        rel = r - self.risk["intercept"]
        p = _sigmoid(r + self.risk["persistence"] * self.V)
        prev = self.V
        self.V = alive & (rng.random(n) < p)
        onset = self.V & ~prev
        self.vtype[onset] = self._vtypes(np.flatnonzero(onset))
        ia = np.flatnonzero(alive)
        self.truth.add(
            entity=ia,
            month=np.full(len(ia), t, dtype=np.int16),
            risk_logit=r[ia].astype(np.float32),
            violation_prob=p[ia].astype(np.float32),
            violating=self.V[ia],
        )
        self.a = self.risk["ar_rho"] * self.a + self.risk["ar_sd"] * rng.standard_normal(n)
        ring = t % 12

        # complaints and reports (12315 / 12345)
        base = np.array([ev["complaint_rate"].get(s, ev["complaint_rate"]["default"]) for s in "ABCDEFGHIJKLMNOPQR"])
        sec_idx = np.frombuffer("".join(self.sections).encode(), dtype=np.uint8) - ord("A")
        lam = (
            base[sec_idx]
            * np.exp(ev["complaint_risk_slope"] * rel)
            * (1 + (ev["complaint_violation_mult"] - 1) * self.V)
        )
        k = rng.poisson(lam * alive)
        ent = np.repeat(np.arange(n), k)
        sub_p = np.where(self.V[ent], ev["substantiated_prob"]["violating"], ev["substantiated_prob"]["clean"])
        substantiated = rng.random(len(ent)) < sub_p
        received = cal.random_day(rng, t, len(ent))
        closed = received + rng.integers(3, 60, len(ent)).astype("timedelta64[D]")
        closed[closed > cal.snapshot_date] = NAT
        self.logs["complaints"].add(
            complaint_id=self._ids("cmp", len(ent), "TS{year}{seq:08d}", year),
            entity=ent,
            channel=np.array(["12315", "12345", "other"], dtype=object)[rng.choice(3, len(ent), p=[0.7, 0.25, 0.05])],
            kind=np.where(rng.random(len(ent)) < 0.8, "complaint", "report").astype(object),
            received_date=received,
            substantiated=substantiated,
            closed_date=closed,
        )
        self.subst[ring] = 0
        self.any_complaint[ring] = 0
        np.add.at(self.subst[ring], ent[substantiated], 1)
        np.add.at(self.any_complaint[ring], ent, 1)

        # negative public opinion
        k = rng.poisson(ev["opinion_rate"] * np.exp(rel) * (1 + 2 * self.V) * alive)
        ent = np.repeat(np.arange(n), k)
        self.logs["public_opinion"].add(
            item_id=self._ids("op", len(ent), "YQ{year}{seq:07d}", year),
            entity=ent,
            publish_date=cal.random_day(rng, t, len(ent)),
            severity=np.array(["low", "medium", "high"], dtype=object)[rng.choice(3, len(ent), p=[0.6, 0.3, 0.1])],
            source=np.array(["网络媒体", "社交平台", "报刊"], dtype=object)[rng.integers(0, 3, len(ent))],
        )

        # administrative penalties: detected violations, complaint-driven cases, transferred inspection cases
        pr = np.where(self.V, ev["penalty_rate"]["violating"], ev["penalty_rate"]["clean"])
        pr = pr + ev["penalty_after_complaint"] * (self.subst[ring] > 0) * self.V
        due = self.pending_penalty_t == t
        pen = alive & ((rng.random(n) < pr) | due)
        self.pending_penalty_t[due] = -1
        self._penalise(np.flatnonzero(pen), t)

        # dishonest judgement debtors
        new_dd = alive & ~self.debtor_open & (rng.random(n) < ev["debtor_rate"] * np.exp(0.8 * rel))
        self._debtors(np.flatnonzero(new_dd), t)
        ended = self.debtor_open & (self.debtor_end_t <= t)
        self.debtor_open[ended] = False

        self._changes(alive, rel, t)
        self._equity(alive, rel, new_dd, t)
        self._honours(alive, rel, t)
        self._annual_reports(alive, rel, t, year, cm)
        self._listings(alive, t)
        self._inspections(alive, t)
        self._repairs(t)
        self._exits(alive, rel, t)

    # ------------------------------------------------------------------ event streams
    def _penalise(self, idx: np.ndarray, t: int) -> None:
        if not len(idx):
            return
        rng, cal, year = self.rng, self.cal, self.cal.year(t)
        vt = np.where(self.V[idx], self.vtype[idx], "registration").astype(object)
        cat = np.array(["fine", "warning", "confiscation", "suspension", "licence_revocation", "other"], dtype=object)[
            rng.choice(6, len(idx), p=[0.68, 0.16, 0.08, 0.04, 0.015, 0.025])
        ]
        fine = np.where(
            np.isin(cat, ["fine", "confiscation", "suspension"]),
            np.round(np.exp(np.log(0.5) + 1.3 * rng.standard_normal(len(idx))), 4),
            0.0,
        )
        confiscation = np.where(cat == "confiscation", np.round(fine * rng.random(len(idx)), 4), 0.0)
        decided = cal.random_day(rng, t, len(idx))
        effect = np.where(cat == "suspension", decided + rng.integers(30, 180, len(idx)).astype("timedelta64[D]"), NAT)
        labels = codes.labels("violation_types")
        self.logs["penalties"].add(
            decision_no=self._ids("pen", len(idx), "湛市监处罚〔{year}〕{seq}号", year),
            entity=idx,
            legal_rep_key=self.legal_rep[idx],
            violation_type=vt,
            facts=np.array([f"经查，当事人存在{labels[v]}行为" for v in vt], dtype=object),
            basis=np.full(len(idx), "《中华人民共和国行政处罚法》及相关法律法规", dtype=object),
            penalty_category=cat,
            content=np.array([codes.labels("penalty_categories")[c] for c in cat], dtype=object),
            fine_amount=fine,
            confiscation_amount=confiscation,
            licence_revoked=np.where(cat == "licence_revocation", "许可证", None).astype(object),
            decision_date=decided,
            effect_end_date=effect,
            publicity_end_date=decided + np.timedelta64(3 * 365, "D"),
            authority=np.array(
                [f"{codes.labels('divisions')[d]}市场监督管理局" for d in self.reg.cols["division_code"][idx]],
                dtype=object,
            ),
            data_source=np.full(len(idx), "湛江市市场监督管理局", dtype=object),
        )
        self.n_pen[idx] += 1
        self.last_pen_t[idx] = t

    def _debtors(self, idx: np.ndarray, t: int) -> None:
        if not len(idx):
            return
        rng, cal, year = self.rng, self.cal, self.cal.year(t)
        duration = 1 + rng.geometric(1 / 14, len(idx))
        self.debtor_open[idx] = True
        self.debtor_end_t[idx] = t + duration
        published = cal.random_day(rng, t, len(idx))
        removal = published + (duration * 30).astype("timedelta64[D]")
        removal[removal > cal.snapshot_date] = NAT
        court = np.array(
            [f"（{year}）粤{d[2:]}执{rng.integers(100, 9999)}号" for d in self.reg.cols["division_code"][idx]],
            dtype=object,
        )
        self.logs["dishonest_debtors"].add(
            case_no=np.array(
                [
                    f"{c[:-1]}之{i}号"
                    for c, i in zip(court, range(self.seq["dd"], self.seq["dd"] + len(idx)), strict=True)
                ],
                dtype=object,
            ),
            entity=idx,
            court=np.array(
                [f"{codes.labels('divisions')[d]}人民法院" for d in self.reg.cols["division_code"][idx]], dtype=object
            ),
            publish_date=published,
            removal_date=removal,
            amount=np.round(np.exp(np.log(20) + 1.5 * rng.standard_normal(len(idx))), 2),
        )
        self.seq["dd"] += len(idx)

    def _changes(self, alive: np.ndarray, rel: np.ndarray, t: int) -> None:
        rng, cal, year, n = self.rng, self.cal, self.cal.year(t), self.reg.n
        for ctype, rate in self.ev["change_rates"].items():
            slope = -0.3 if ctype == "capital_up" else 0.3
            mult = 4.0 if ctype in ("legal_rep", "address") else 1.0
            p = rate * np.exp(slope * rel) * np.where(self.is_shell, mult, 1.0)
            if ctype in ("capital_up", "capital_down", "shareholder", "name"):
                p = p * (self.etype != "individual")
            idx = np.flatnonzero(alive & (rng.random(n) < p))
            if not len(idx):
                continue
            dates = cal.random_day(rng, t, len(idx))
            before = after = np.full(len(idx), np.nan)
            if ctype.startswith("capital"):
                factor = rng.uniform(1.5, 5.0, len(idx)) if ctype == "capital_up" else rng.uniform(0.1, 0.7, len(idx))
                before = self.capital[idx].copy()
                after = np.round(before * factor, 2)
                self.capital[idx] = after
            if ctype == "legal_rep":
                new_people = person_keys(rng, len(idx))
                self.role_changes.add(entity=idx, old=self.legal_rep[idx], new=new_people, date=dates)
                self.legal_rep[idx] = new_people
            self.logs["changes"].add(
                change_id=self._ids("chg", len(idx), "BG{year}{seq:08d}", year),
                entity=idx,
                change_type=np.full(len(idx), ctype, dtype=object),
                change_date=dates,
                capital_before=before,
                capital_after=after,
            )

    def _equity(self, alive, rel, new_debtors, t) -> None:
        rng, cal, year, n = self.rng, self.cal, self.cal.year(t), self.reg.n
        ent_ok = alive & (self.etype == "enterprise")
        pledge = ent_ok & (rng.random(n) < self.ev["pledge_rate"])
        freeze = ent_ok & (
            (rng.random(n) < self.ev["freeze_rate"] * np.exp(0.8 * rel)) | (new_debtors & (rng.random(n) < 0.4))
        )
        for kind, mask in (("pledge", pledge), ("freeze", freeze)):
            idx = np.flatnonzero(mask)
            start = cal.random_day(rng, t, len(idx))
            end = start + rng.integers(90, 3 * 365, len(idx)).astype("timedelta64[D]")
            end[end > cal.snapshot_date] = NAT
            self.logs["equity_actions"].add(
                action_id=self._ids("eq", len(idx), "GQ{year}{seq:07d}", year),
                entity=idx,
                action_type=np.full(len(idx), kind, dtype=object),
                start_date=start,
                end_date=end,
                amount=np.round(self.capital[idx] * rng.uniform(0.05, 0.6, len(idx)), 2),
            )

    def _honours(self, alive, rel, t) -> None:
        rng, cal, year, n = self.rng, self.cal, self.cal.year(t), self.reg.n
        p = self.ev["honour_rate"] * np.exp(-rel) * (self.etype == "enterprise") * ~self.is_shell
        idx = np.flatnonzero(alive & (rng.random(n) < p) & ~self.V)
        kinds = np.array(
            ["contract_credit", "a_taxpayer", "famous_brand", "quality_award", "high_tech_cert", "other"], dtype=object
        )
        award = cal.random_day(rng, t, len(idx))
        self.logs["honours"].add(
            honour_id=self._ids("hon", len(idx), "RY{year}{seq:06d}", year),
            entity=idx,
            honour_type=kinds[rng.choice(len(kinds), len(idx), p=[0.3, 0.35, 0.1, 0.05, 0.1, 0.1])],
            award_date=award,
            expiry_date=award + rng.choice([365, 730, 1095], len(idx)).astype("timedelta64[D]"),
        )

    def _annual_reports(self, alive, rel, t, year, cm) -> None:
        rng, cal, n = self.rng, self.cal, self.reg.n
        est = self.reg.cols["established_date"]
        unfiled = self.missing_years != 0
        if cm == 6:  # reports for last year, due 1 Jan – 30 Jun
            report_year = year - 1
            due = alive & (est < np.datetime64(f"{year}-01-01"))
            ev = self.ev
            logit = (
                ev["annual_report_on_time_logit"]
                - ev["annual_report_risk_slope"] * rel
                - 2.5 * self.is_shell
                - 1.5 * unfiled
                - ev["annual_report_violation_effect"] * self.V
            )
            filed = due & (rng.random(n) < _sigmoid(logit))
            idx = np.flatnonzero(filed)
            days = np.minimum(rng.beta(3, 1.5, len(idx)) * 181, 180).astype(int)
            self._report_rows(idx, report_year, np.datetime64(f"{year}-01-01") + days.astype("timedelta64[D]"))
            self.missing_years[due & ~filed] |= 1 << (report_year - self.base_year)
        if cm == 7:  # listed within 10 working days after 30 June: one listing per missing report year
            missed_last_year = (self.missing_years >> (year - 1 - self.base_year)) & 1 == 1
            idx = np.flatnonzero(alive & missed_last_year)
            self._add_listings(
                idx,
                np.full(len(idx), "1", dtype=object),
                np.datetime64(f"{year}-07-01") + rng.integers(1, 14, len(idx)).astype("timedelta64[D]"),
            )
        # late filing: an entity files every missing year at once, which lifts its reason-1/2 listings
        p_late = self.ev["late_filing_monthly_prob"] * np.exp(-0.5 * rel)
        late = alive & (self.missing_years != 0) & (rng.random(n) < p_late)
        idx = np.flatnonzero(late)
        if not len(idx):
            return
        dates = cal.random_day(rng, t, len(idx))
        for k in range(64):
            m = (self.missing_years[idx] >> k) & 1 == 1
            if m.any():
                self._report_rows(idx[m], self.base_year + k, dates[m])
        self.missing_years[idx] = 0
        hit = self.l_open & np.isin(self.l_entity, idx) & np.isin(self.l_reason, ["1", "2"])
        when = dict(zip(idx, dates, strict=True))
        self._remove_listings(
            hit,
            np.array([when[e] for e in self.l_entity[hit]], dtype="datetime64[D]")
            + rng.integers(1, 10, hit.sum()).astype("timedelta64[D]"),
            "report_filed",
        )

    def _report_rows(self, idx, report_year, dates) -> None:
        rng = self.rng
        c = self.reg.cols
        zero = rng.random(len(idx)) < np.where(
            self.is_shell[idx], self.ev["all_zero_prob"]["shell"], self.ev["all_zero_prob"]["other"]
        )
        scale = np.maximum(self.capital[idx], 1) ** 0.6 * np.maximum(c["employees"][idx], 1) ** 0.5
        revenue = np.round(scale * np.exp(1.0 + 0.8 * rng.standard_normal(len(idx))), 2)
        assets = np.round(revenue * rng.uniform(0.5, 2.5, len(idx)), 2)
        liabilities = np.round(assets * rng.beta(2, 2.5, len(idx)), 2)
        profit = np.round(revenue * rng.normal(0.04, 0.12, len(idx)), 2)
        tax = np.round(np.maximum(revenue * rng.uniform(0.005, 0.06, len(idx)), 0), 2)
        staff = np.round(c["employees"][idx] * rng.uniform(0.4, 1.0, len(idx)))
        for arr in (revenue, assets, liabilities, profit, tax, staff):
            arr[zero] = 0.0
        self.logs["annual_reports"].add(
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

    def _open_reason(self, reason: str) -> np.ndarray:
        out = np.zeros(self.reg.n, dtype=bool)
        out[self.l_entity[self.l_open & (self.l_reason == reason)]] = True
        return out

    def _listings(self, alive, t) -> None:
        rng, cal, n = self.rng, self.cal, self.reg.n
        rate = np.where(self.is_shell, self.ev["unreachable_rate"]["shell"], self.ev["unreachable_rate"]["other"])
        idx = np.flatnonzero(alive & ~self._open_reason("4") & (rng.random(n) < rate))
        self._add_listings(idx, np.full(len(idx), "4", dtype=object), cal.random_day(rng, t, len(idx)))
        # listings resolved other than by filing a report
        month_end = cal.month_start[t] + np.timedelta64(int(cal.month_days[t]) - 1, "D")
        p_fix = np.select([self.l_reason == "4", np.isin(self.l_reason, ["2", "3"])], [0.03, 0.1], 0.0)
        p_fix = np.where(self.is_shell[self.l_entity], p_fix / 6, p_fix)
        fix = self.l_open & (self.l_date < cal.month_start[t]) & (rng.random(len(self.l_open)) < p_fix)
        reasons = {"4": "reachable", "2": "info_disclosed", "3": "info_corrected"}
        for code, why in reasons.items():
            m = fix & (self.l_reason == code)
            self._remove_listings(m, cal.random_day(rng, t, int(m.sum())), why)
        self._escalate(before=month_end + _DAY)

    def _inspections(self, alive, t) -> None:
        rng, cal, insp, n, year = self.rng, self.cal, self.insp, self.reg.n, self.cal.year(t)
        p_u = insp["undirected_annual_ratio"] / 12
        undirected = alive & (rng.random(n) < p_u)
        listed = np.zeros(n, dtype=bool)
        listed[self.l_entity[self.l_open]] = True
        high = listed | self.serious_open | (t - self.last_pen_t <= 12) | (self.subst.sum(axis=0) >= 2)
        medium = ~high & ((self.any_complaint.sum(axis=0) > 0) | (self.missing_years != 0))
        p_d = np.select(
            [high, medium],
            [insp["directed_monthly_prob"]["high"], insp["directed_monthly_prob"]["medium"]],
            insp["directed_monthly_prob"]["low"],
        )
        directed = alive & ~undirected & (rng.random(n) < p_d)
        last = self.subst[(t - 1) % 12] > 0 if t > 0 else np.zeros(n, dtype=bool)
        triggered = alive & ~undirected & ~directed & last & (rng.random(n) < insp["triggered_prob"])
        draw = np.select([undirected, directed, triggered], ["undirected", "directed", "triggered"], "").astype(object)
        idx = np.flatnonzero(draw != "")
        if not len(idx):
            return
        incl = np.select([undirected[idx], directed[idx]], [p_u, p_d[idx]], np.nan)
        c = self.reg.cols
        domain = c["food_licensed"][idx] | c["drug_licensed"][idx] | c["special_equipment"][idx]
        item = np.where(domain & (rng.random(len(idx)) < 0.6), "key", "general").astype(object)
        detected = self.V[idx] & (rng.random(len(idx)) < insp["detection_prob"])
        result = np.full(len(idx), "1", dtype=object)
        u = rng.random(len(idx))
        result[~self.V[idx] & (u < insp["not_operating_prob"])] = "F"
        result[
            ~self.V[idx] & (u >= insp["not_operating_prob"]) & (u < insp["not_operating_prob"] + insp["closed_prob"])
        ] = "7"
        for vtype in np.unique(self.vtype[idx[detected]]):
            m = detected & (self.vtype[idx] == vtype)
            options, probs = RESULT_BY_TYPE.get(vtype, RESULT_BY_TYPE["default"])
            result[m] = np.array(options, dtype=object)[rng.choice(len(options), int(m.sum()), p=probs)]
        shell_found = detected & self.is_shell[idx] & (rng.random(len(idx)) < 0.5)
        result[shell_found] = "6"
        disposition = np.array([DISPOSITION.get(code, "correct") for code in result], dtype=object)
        case = np.isin(result, ["B", "C", "D", "3", "4", "5", "G", "8"]) & (
            rng.random(len(idx)) < self.ev["penalty_after_inspection"]
        )
        disposition[case] = "case_lead"
        self.pending_penalty_t[idx[case]] = t + rng.integers(1, 4, case.sum())
        dates = cal.random_day(rng, t, len(idx))
        self.logs["inspections"].add(
            inspection_id=self._ids("jc", len(idx), "JC{year}{seq:07d}", year),
            entity=idx,
            task_id=np.array(
                [
                    f"湛市监双随机〔{year}〕{cal.calendar_month(t):02d}-{it}-{d}"
                    for it, d in zip(item, draw[idx], strict=True)
                ],
                dtype=object,
            ),
            item_type=item,
            draw_type=draw[idx],
            inclusion_prob=incl,
            inspection_date=dates,
            result_code=result,
            disposition=disposition,
        )
        # a found problem often ends the violation; statutory listings follow some findings
        stop = detected & (rng.random(len(idx)) < self.risk["detected_stop_prob"])
        self.V[idx[stop]] = False
        for code, reason in (("6", "4"), ("B", "2"), ("C", "3")):
            m = (result == code) & ~self._open_reason(reason)[idx]
            if code != "6":
                m &= rng.random(len(idx)) < 0.5
            when = self._clip(dates[m] + rng.integers(3, 14, int(m.sum())).astype("timedelta64[D]"))
            self._add_listings(idx[m], np.full(int(m.sum()), reason, dtype=object), when)

    def _repairs(self, t) -> None:
        rng, cal, year = self.rng, self.cal, self.cal.year(t)
        ser = self.serious
        if len(ser):
            ent = np.concatenate(ser._columns["entity"])
            listed = np.concatenate(ser._columns["list_date"])
            ids = np.concatenate(ser._columns["listing_id"])
            old_enough = listed <= cal.month_start[t] - np.timedelta64(365, "D")
            hit = self.serious_open[ent] & old_enough & (rng.random(len(ent)) < self.ev["repair_serious_prob"])
            hit &= ~pd.Series(ent).duplicated(keep="last").to_numpy()
            if hit.any():
                dates = cal.random_day(rng, t, int(hit.sum()))
                self.serious_open[ent[hit]] = False
                self.repaired_serious.update(dict(zip(ids[hit], dates, strict=True)))
                self.logs["credit_repairs"].add(
                    repair_id=self._ids("cr", int(hit.sum()), "XF{year}{seq:06d}", year),
                    entity=ent[hit],
                    target=np.full(int(hit.sum()), "serious", dtype=object),
                    target_id=ids[hit],
                    repair_date=dates,
                )
        pen = self.logs["penalties"]
        if len(pen):
            ent = np.concatenate(pen._columns["entity"])
            decided = np.concatenate(pen._columns["decision_date"])
            cats = np.concatenate(pen._columns["penalty_category"])
            ids = np.concatenate(pen._columns["decision_no"])
            done = self.repaired_penalties
            eligible = np.isin(cats, ["warning", "fine"]) & (decided <= cal.month_start[t] - np.timedelta64(90, "D"))
            eligible &= ~np.isin(ids, list(done)) if done else True
            hit = eligible & (rng.random(len(ent)) < self.ev["repair_penalty_prob"])
            if hit.any():
                self.repaired_penalties = done | set(ids[hit])
                self.logs["credit_repairs"].add(
                    repair_id=self._ids("cr", int(hit.sum()), "XF{year}{seq:06d}", year),
                    entity=ent[hit],
                    target=np.full(int(hit.sum()), "penalty", dtype=object),
                    target_id=ids[hit],
                    repair_date=cal.random_day(rng, t, int(hit.sum())),
                )

    def _exits(self, alive, rel, t) -> None:
        rng, cal, n = self.rng, self.cal, self.reg.n
        listed_since = np.full(n, 10**6)
        open_l = self.l_open
        if open_l.any():
            first_t = cal.month_index(self.l_date[open_l])
            np.minimum.at(listed_since, self.l_entity[open_l], first_t)
        revoke = alive & (t - listed_since >= 24) & (rng.random(n) < self.ev["revocation_rate_long_abnormal"])
        rate = np.array([self.ev["exit_rate"][e] for e in ("enterprise", "individual", "cooperative")])
        type_idx = np.select([self.etype == "enterprise", self.etype == "individual"], [0, 1], 2)
        dereg = alive & ~revoke & (rng.random(n) < rate[type_idx] * np.exp(0.3 * rel))
        dereg &= self.established_t < t  # nobody closes in the month it opens
        for status, mask in (("revoked", revoke), ("deregistered", dereg)):
            idx = np.flatnonzero(mask)
            dates = np.maximum(cal.random_day(rng, t, len(idx)), self.reg.cols["established_date"][idx] + _DAY)
            dates = self._clip(dates)
            self.status[idx], self.status_date[idx] = status, dates
            self.exited[idx] = True
            hit = self.l_open & np.isin(self.l_entity, idx)
            when = dict(zip(idx, dates, strict=True))
            self._remove_listings(
                hit, np.array([when[e] for e in self.l_entity[hit]], dtype="datetime64[D]"), "deregistered"
            )

    # ------------------------------------------------------------------ driver
    def run(self, progress: Progress | None = None) -> None:
        self.initialise()
        task = progress.add_task("simulating months", total=self.cal.months) if progress else None
        for t in range(self.cal.months):
            self.step(t)
            if progress:
                progress.advance(task)
