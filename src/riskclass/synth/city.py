"""Static structure of the synthetic city: market entities, their people and their addresses.

Everything here is drawn once, before the monthly simulation: entity type, industry, district,
age, capital, staff, tags, domain licences, legal representatives, shareholders, addresses, and the
shell clusters (空壳/批量注册) that give the relationship indicators something real to find.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from riskclass import codes, uscc
from riskclass.synth.calendar import Calendar
from riskclass.synth.shard import WHOLE, Shard

_BRAND_CHARS = list("鑫达盛华源通泰丰瑞祥恒宏兴隆福嘉康安和润德信诚新宇海港湾南粤湛雷廉吴遂徐霞赤坡麻金银明辉志远")
_SECTION_WORDS = {
    "A": "农业",
    "B": "矿业",
    "C": "实业",
    "D": "能源",
    "E": "建设工程",
    "F": "贸易",
    "G": "物流",
    "H": "餐饮",
    "I": "科技",
    "J": "金融信息",
    "K": "置业",
    "L": "商务服务",
    "M": "技术",
    "N": "环境",
    "O": "生活服务",
    "P": "培训",
    "Q": "医疗",
    "R": "文化娱乐",
}
_FORM_SUFFIX = {
    "llc": "有限公司",
    "llc_single_person": "有限公司",
    "joint_stock": "股份有限公司",
    "sole_proprietorship": "商行",
    "partnership": "（有限合伙）",
    "foreign_invested": "有限公司",
    "state_owned": "公司",
    "branch": "有限公司分公司",
    "individual_business": "店",
    "farmers_cooperative": "专业合作社",
}
FOOD_CLASSES = {"C1351", "C1361", "C1411", "C1522", "F5121", "F5124", "F5212", "F5213", "F5221", "F5223", "F5226"}
DRUG_CLASSES = {"F5251", "C2740", "Q8415", "Q8425"}
SPECIAL_EQUIPMENT_CLASSES = {"D4411", "D4610", "H6110", "G5411", "F5265", "K7020", "C3731", "C3441"}
NEW_ECONOMY_CLASSES = {"I6432", "F5292", "G6020", "I6513", "L7251", "J6930"}
SHELL_CLASSES = ["L7299", "F5199", "I6560", "M7519", "L7241"]


@dataclass
class Registry:
    """Column arrays for N entities (index i = position) plus the hidden attributes."""

    cols: dict[str, np.ndarray]
    shell_cluster: np.ndarray  # -1 for regular entities
    base_risk: np.ndarray  # logit-scale time-invariant risk
    established_t: np.ndarray  # month index of establishment (negative before the window)
    closed_before_window: np.ndarray
    roles: pd.DataFrame  # initial roles (legal reps and shareholders)
    legal_rep: np.ndarray  # current legal representative person key
    relation_incidence: sparse.csr_matrix  # entities × relation groups (shared person or address)
    shard: Shard = WHOLE  # the part of a large city these entities are (its streams and number ranges)

    @property
    def n(self) -> int:
        return len(self.base_risk)


def _choice(rng: np.random.Generator, shares: dict, n: int) -> np.ndarray:
    keys = list(shares)
    p = np.array([shares[k] for k in keys], dtype=float)
    return np.array(keys, dtype=object)[rng.choice(len(keys), n, p=p / p.sum())]


def _industry_classes(rng: np.random.Generator, sections: np.ndarray, types: np.ndarray) -> np.ndarray:
    classes = codes.code_lists()["industry_classes"]
    out = np.empty(len(sections), dtype=object)
    for (section, etype), idx in pd.Series(range(len(sections))).groupby([sections, types]).groups.items():
        options = [c for c, spec in classes.items() if c[0] == section and etype in spec["types"]]
        if not options:
            options = [c for c in classes if c[0] == section]
        out[np.asarray(idx)] = np.array(options, dtype=object)[rng.integers(0, len(options), len(idx))]
    return out


def person_keys(rng: np.random.Generator, n: int) -> np.ndarray:
    raw = rng.integers(0, 2**63 - 1, n, dtype=np.int64)
    return np.array([f"P{v:016X}" for v in raw], dtype=object)


def _names(
    rng: np.random.Generator, industry: np.ndarray, forms: np.ndarray, divisions: np.ndarray, uscc_codes: np.ndarray
) -> np.ndarray:
    division_names = codes.labels("divisions")
    brands = rng.integers(0, len(_BRAND_CHARS), (len(industry), 2))
    out = np.empty(len(industry), dtype=object)
    for i in range(len(industry)):
        brand = _BRAND_CHARS[brands[i, 0]] + _BRAND_CHARS[brands[i, 1]]
        place = division_names[divisions[i]]
        # the organisation-code digits keep names distinct, as real registries require
        out[i] = f"{place}{brand}{uscc_codes[i][12:16]}{_SECTION_WORDS[industry[i][0]]}{_FORM_SUFFIX[forms[i]]}"
    return out


def build_registry(
    rng: np.random.Generator, n: int, sp: dict, city: dict, cal: Calendar, shard: Shard = WHOLE
) -> Registry:
    risk = sp["risk"]
    # --- shell clusters first: batches of look-alike companies at one address -----------------
    n_clusters = round(n / 10_000 * sp["shell_clusters_per_10k"])
    lo, hi = sp["shell_cluster_size"]
    sizes = rng.integers(lo, hi + 1, n_clusters)
    sizes = sizes[np.cumsum(sizes) <= 0.03 * n]
    shell_cluster = np.full(n, -1)
    n_shell = int(sizes.sum())
    shell_cluster[:n_shell] = np.repeat(np.arange(len(sizes)), sizes)
    is_shell = shell_cluster >= 0

    etype = _choice(rng, sp["entity_type_shares"], n)
    etype[is_shell] = "enterprise"
    sections = np.empty(n, dtype=object)
    for t in ("enterprise", "individual", "cooperative"):
        m = etype == t
        sections[m] = _choice(rng, sp["section_shares"][t], int(m.sum()))
    industry = _industry_classes(rng, sections, etype)
    industry[is_shell] = np.array(SHELL_CLASSES, dtype=object)[rng.integers(0, len(SHELL_CLASSES), n_shell)]
    sections = np.array([c[0] for c in industry], dtype=object)

    division = _choice(rng, city["district_shares"], n)
    if n_shell:
        cluster_div = _choice(rng, city["district_shares"], len(sizes))
        division[is_shell] = cluster_div[shell_cluster[is_shell]]

    forms = np.empty(n, dtype=object)
    ent = etype == "enterprise"
    forms[ent] = _choice(rng, sp["org_form_shares"]["enterprise"], int(ent.sum()))
    forms[etype == "individual"] = "individual_business"
    forms[etype == "cooperative"] = "farmers_cooperative"
    forms[is_shell] = np.where(rng.random(n_shell) < 0.5, "llc", "llc_single_person")

    # --- age and establishment -------------------------------------------------------------
    snapshot = cal.snapshot_date
    mean_age = np.array([sp["mean_age_years"][t] for t in etype])
    age_days = np.minimum(rng.exponential(mean_age * 365.25), sp["max_age_years"] * 365.25).astype(int)
    established = snapshot - age_days.astype("timedelta64[D]")
    coop_floor = np.datetime64(f"{sp['cooperative_law_year']}-07-01")
    coop = etype == "cooperative"
    established[coop] = np.maximum(established[coop], coop_floor + rng.integers(0, 3650, coop.sum()))
    if n_shell:
        cluster_day = snapshot - rng.integers(60, 6 * 365, len(sizes)).astype("timedelta64[D]")
        jitter = rng.integers(-90, 91, n_shell).astype("timedelta64[D]")
        established[is_shell] = np.minimum(cluster_day[shell_cluster[is_shell]] + jitter, snapshot)
    established_t = cal.month_index(established)

    # --- capital, staff --------------------------------------------------------------------
    med = np.array([sp["capital_median"][t] for t in etype])
    sd = np.array([sp["capital_log_sd"][t] for t in etype])
    capital = np.exp(np.log(med) + sd * rng.standard_normal(n))
    nice = np.array([1, 3, 5, 10, 20, 30, 50, 100, 200, 300, 500, 1000, 2000, 5000, 10000, 50000])
    rounded = nice[np.clip(np.searchsorted(nice, capital), 0, len(nice) - 1)]
    capital = np.where(rng.random(n) < sp["round_capital_share"], rounded, np.round(capital, 2))
    capital = np.clip(capital, 0.1, 1e6)
    if n_shell:
        huge = rng.random(n_shell) < 0.5
        capital[is_shell] = np.where(
            huge, rng.choice([1000, 2000, 5000, 10000], n_shell), rng.choice([1, 3, 5, 10], n_shell)
        )
    paid = np.where(rng.random(n) < 0.45, 0.0, np.round(capital * rng.beta(2.0, 1.5, n), 2))
    paid = np.where(ent, paid, np.nan)
    paid[is_shell] = 0.0

    employees = np.where(
        ent,
        np.round(np.exp(np.log(6) + 1.2 * rng.standard_normal(n))),
        np.where(coop, 5 + rng.poisson(5, n), 1 + rng.poisson(1.0, n)),
    )
    employees[ent & (rng.random(n) < 0.12)] = 0
    employees[is_shell] = 0

    # --- tags and domains ------------------------------------------------------------------
    cim = np.isin(sections, ["C", "I", "M"])
    high_tech = (
        ent & ~is_shell & (rng.random(n) < np.where(cim, sp["high_tech_share"]["CIM"], sp["high_tech_share"]["other"]))
    )
    new_econ = high_tech | (np.isin(industry, list(NEW_ECONOMY_CLASSES)) & (rng.random(n) < 0.6))
    food = (np.isin(industry, list(FOOD_CLASSES)) | np.isin(sections, ["H"])) & (rng.random(n) < 0.95)
    food &= ~np.isin(industry, ["H6110", "H6121"]) | (rng.random(n) < 0.5)
    drug = np.isin(industry, list(DRUG_CLASSES)) & (rng.random(n) < 0.95)
    special = (np.isin(industry, list(SPECIAL_EQUIPMENT_CLASSES)) & (rng.random(n) < 0.8)) | (
        (sections == "C") & ent & (rng.random(n) < 0.3)
    )

    # --- identifiers -----------------------------------------------------------------------
    prefixes = np.array([codes.code_lists()["entity_types"][t]["uscc_prefix"] for t in etype], dtype=object)
    codes_ = uscc.generate(rng, prefixes, division, shard.uscc_bodies)
    names = _names(rng, industry, forms, division, codes_)

    # --- addresses: own address, multi-tenant buildings, cluster-registration addresses --------
    # address, building and cluster-address numbers within the shard's range (unique across a sharded city)
    first = shard.first(n, "addresses")
    address = np.array([f"A{d}{first + i:07d}" for i, d in enumerate(division)], dtype=object)
    u = rng.random(n)
    shared = (u < sp["shared_address_share"]) & ~is_shell
    building = _heavy_tailed_groups(rng, int(shared.sum()), 2.0, sp["building_max_tenants"])
    address[shared] = np.array(
        [f"B{division[i]}{first + b:06d}" for i, b in zip(np.flatnonzero(shared), building, strict=True)], dtype=object
    )
    n_cluster_addr = max(1, round(n / 10_000 * sp["cluster_addresses_per_10k"]))
    first_cluster = shard.first(n_cluster_addr, "cluster addresses")
    in_cluster = (u >= sp["shared_address_share"]) & (u < sp["shared_address_share"] + sp["cluster_address_share"])
    in_cluster &= ~is_shell & (etype == "enterprise")
    cluster_addr = rng.integers(0, n_cluster_addr, in_cluster.sum())
    address[in_cluster] = np.array([f"C440800{first_cluster + c:05d}" for c in cluster_addr], dtype=object)
    if n_shell:
        shell_addr = rng.integers(0, n_cluster_addr, len(sizes))
        address[is_shell] = np.array(
            [f"C440800{first_cluster + shell_addr[c]:05d}" for c in shell_cluster[is_shell]], dtype=object
        )

    # --- legal representatives -------------------------------------------------------------
    legal_rep = person_keys(rng, n)
    serial = (rng.random(n) < sp["serial_person_share"]) & ~is_shell
    portfolio = _heavy_tailed_groups(rng, int(serial.sum()), sp["serial_zipf_a"], sp["serial_max_portfolio"])
    legal_rep[serial] = person_keys(rng, int(portfolio.max()) + 1 if len(portfolio) else 0)[portfolio]
    if n_shell:
        cluster_people = person_keys(rng, 3 * len(sizes)).reshape(len(sizes), 3)
        which = rng.integers(0, 2, n_shell) + (rng.random(n_shell) < 0.2)
        legal_rep[is_shell] = cluster_people[shell_cluster[is_shell], which]

    roles = _initial_roles(
        rng, etype, forms, legal_rep, established, capital, codes_, ent, sp["corporate_shareholder_share"]
    )

    # --- closed before the window (the registry keeps them) -----------------------------------
    closed_before = (established_t < -12) & (rng.random(n) < sp["pre_window_closed_share"]) & ~is_shell
    status = np.full(n, "active", dtype=object)
    status_date = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    span = np.maximum((cal.window_start - established[closed_before]).astype(int) - 1, 1)
    status_date[closed_before] = established[closed_before] + (rng.random(closed_before.sum()) * span).astype(
        int
    ).astype("timedelta64[D]")
    status[closed_before] = np.where(rng.random(closed_before.sum()) < 0.85, "deregistered", "revoked")

    # --- time-invariant latent risk (the age effect varies by month: simulate.py) ----------------
    base = (
        risk["intercept"]
        + np.array([risk["section_effect"].get(s, 0.0) for s in sections])
        + np.array([risk["type_effect"][t] for t in etype])
        + risk["tiny_capital_effect"] * (ent & (capital < 10))
        + risk["huge_capital_zero_staff_effect"] * (ent & (capital >= 1000) & (employees == 0))
        + risk["shell_effect"] * is_shell
        + risk["high_tech_effect"] * high_tech
        + risk["unobserved_sd"] * rng.standard_normal(n)
    )

    cols = {
        "uscc": codes_,
        "name": names,
        "entity_type": etype,
        "org_form": forms,
        "industry_code": industry,
        "division_code": division,
        "registered_capital": capital,
        "paid_in_capital": paid,
        "established_date": established,
        "status": status,
        "status_date": status_date,
        "address_key": address,
        "employees": employees.astype(int),
        "is_high_tech": high_tech,
        "is_new_economy": new_econ,
        "food_licensed": food,
        "drug_licensed": drug,
        "special_equipment": special,
    }
    return Registry(
        cols,
        shell_cluster,
        base,
        established_t,
        closed_before,
        roles,
        legal_rep.copy(),
        _relation_incidence(legal_rep, address),
        shard,
    )


def _initial_roles(
    rng, etype, forms, legal_rep, established, capital, uscc_codes, ent, corporate_share: float
) -> pd.DataFrame:
    n = len(etype)
    frames = [
        pd.DataFrame(
            {
                "uscc": uscc_codes,
                "role": "legal_rep",
                "holder_type": "natural_person",
                "person_key": legal_rep,
                "holder_uscc": None,
                "share": np.nan,
                "start_date": established,
            }
        )
    ]
    has_holders = ent & (forms != "branch")
    single = np.isin(forms, ["llc_single_person", "sole_proprietorship"])
    k = np.where(single, 1, np.minimum(1 + rng.poisson(0.8, n), 5)) * has_holders
    owner = np.repeat(np.arange(n), k)
    first = np.r_[0, np.cumsum(k)[:-1]]
    position = np.arange(len(owner)) - np.repeat(first, k)
    holder_type = np.full(len(owner), "natural_person", dtype=object)
    holder_type[(forms[owner] == "state_owned") & (position == 0)] = "state"
    holder_type[(forms[owner] == "foreign_invested") & (position == 0)] = "foreign"
    corporate = (holder_type == "natural_person") & (position > 0) & (rng.random(len(owner)) < corporate_share)
    holder_type[corporate] = "enterprise"
    person = person_keys(rng, len(owner))
    person[position == 0] = legal_rep[owner[position == 0]]  # the legal rep usually holds shares
    person[holder_type != "natural_person"] = None
    # corporate holders: an older, better-capitalised enterprise of the city
    candidates = np.flatnonzero(ent & (capital >= 100))
    holder_uscc = np.full(len(owner), None, dtype=object)
    if len(candidates):
        holder_uscc[corporate] = uscc_codes[candidates[rng.integers(0, len(candidates), corporate.sum())]]
    same = holder_uscc == uscc_codes[owner]
    holder_type[same], holder_uscc[same] = "natural_person", None
    person[same] = person_keys(rng, int(same.sum()))
    weights = rng.gamma(1.0, 1.0, len(owner))
    share = np.round(weights / np.bincount(owner, weights, minlength=n)[owner], 4)
    frames.append(
        pd.DataFrame(
            {
                "uscc": uscc_codes[owner],
                "role": "shareholder",
                "holder_type": holder_type,
                "person_key": person,
                "holder_uscc": holder_uscc,
                "share": share,
                "start_date": established[owner],
            }
        )
    )
    roles = pd.concat(frames, ignore_index=True)
    roles["end_date"] = np.datetime64("NaT", "D")
    return roles


def _heavy_tailed_groups(rng: np.random.Generator, members: int, zipf_a: float, max_size: int) -> np.ndarray:
    """Group id for each of ``members``: group sizes 2 + Zipf(a), capped, in random order.

    Used for multi-tenant buildings and for people who run several entities: most groups are
    small, a few are large, none absurd.
    """
    if members == 0:
        return np.zeros(0, dtype=np.int64)
    sizes = np.minimum(1 + rng.zipf(zipf_a, members), max_size)
    sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), members)) + 1]
    groups = np.repeat(np.arange(len(sizes)), sizes)[:members]
    return rng.permutation(groups)


def _relation_incidence(legal_rep: np.ndarray, address: np.ndarray) -> sparse.csr_matrix:
    """Entities × groups of size ≥ 2 (a shared legal representative or a shared address)."""
    blocks = []
    for keys in (legal_rep, address):
        codes_, _ = pd.factorize(keys)
        sizes = np.bincount(codes_)
        keep = sizes[codes_] >= 2
        rows = np.flatnonzero(keep)
        group_ids, _ = pd.factorize(codes_[keep])
        blocks.append(
            sparse.csr_matrix(
                (np.ones(len(rows)), (rows, group_ids)), shape=(len(keys), int(group_ids.max()) + 1 if len(rows) else 0)
            )
        )
    return sparse.hstack(blocks).tocsr()
