"""``riskclass roster --month M``: the roster history up to M, one month at a time, and its metrics.

Per month, under ``triggers.out_dir`` (internal: the roster shows who is A/B, so the files are private):

* ``<M>.parquet``          roster rows (roster.ROSTER_COLUMNS): members, this month's enrolments, removals with
                           their reason, grace-period ends, entities waiting to be re-enrolled;
* ``triggers/<M>.parquet`` the triggers fired in M on members of the roster of M − 1 (sources.TRIGGER_COLUMNS);
* ``<M>.json``             counts and the files' hashes.

History is append-only: the months are made in order, each from the stored month before. A month already
written is never rewritten silently — the plan of the month after was drawn from it. When a recomputation
would differ (a revised record, late data, other parameters) the stored month is kept (``status: kept``,
the differing files named) unless ``replace`` is asked; a replacement records the hashes it replaced.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pandas as pd

from riskclass.early_warning.fire import warnings_path
from riskclass.inspections import load_inspections
from riskclass.io import atomic_file, json_ready, sha256_file, write_json, write_parquet
from riskclass.periods import check_month, previous_month
from riskclass.records import RecordStore
from riskclass.triggers.kinds import KINDS
from riskclass.triggers.roster import ON_ROSTER, categories_of, update_roster
from riskclass.triggers.sources import (
    TriggerError,
    fire_triggers,
    read_legal_list,
    serious_listed,
    window,
)

TRIGGER_DIR = "triggers"


def roster_path(out_dir: Path | str, month: str) -> Path:
    return Path(out_dir) / f"{month}.parquet"


def triggers_path(out_dir: Path | str, month: str) -> Path:
    return Path(out_dir) / TRIGGER_DIR / f"{month}.parquet"


def read_month(out_dir: Path | str, month: str) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The stored roster rows and triggers of ``month``, or None when the month was not made."""
    r, t = roster_path(out_dir, month), triggers_path(out_dir, month)
    if not (r.exists() and t.exists() and r.with_suffix(".json").exists()):
        return None
    return pd.read_parquet(r), pd.read_parquet(t)


class _Sources:
    """What every month reads, loaded once."""

    def __init__(self, p: dict):
        tp, fp = p["triggers"], p["features"]
        validated = Path(fp["validated_dir"])
        # only the columns the categories read: the whole registry is most of the step's time in a large city
        needed = {c["flag"] for c in tp["categories"] if c.get("flag")}
        needed |= {"industry_code"} if any(c.get("industries") for c in tp["categories"]) else set()
        registry = pd.read_parquet(validated / "entities.parquet", columns=["uscc", *sorted(needed)])
        self.category = categories_of(registry, tp["categories"])
        self.complaints = pd.read_parquet(validated / "complaints.parquet")
        self.serious = pd.read_parquet(validated / "serious_violations.parquet")
        self.inspections = load_inspections(validated, Path(fp["feedback_dir"]))
        self.legal = read_legal_list(tp["legal_file"])
        self.store = RecordStore(p["classify"]["records_dir"])

    def classes(self, month: str) -> pd.DataFrame | None:
        record = self.store.current(month)
        return None if record is None else pd.read_parquet(record.classes_path, columns=["uscc", "class"])


def month_warnings(p: dict, month: str) -> pd.DataFrame:
    """The month's warnings with a code that triggers and that the entity did not have the month before; the
    codes are checked against the warnings' manifest."""
    tp = p["triggers"]
    path = warnings_path(p["warnings"]["out_dir"], month)
    if not tp["kinds"]["warning"]:
        return pd.DataFrame({"uscc": [], "code": []}, dtype=object)
    if not path.exists() or not path.with_suffix(".json").exists():
        raise TriggerError(f"{path}: missing — warning triggers need the warnings of {month} (riskclass warnings)")
    known = set(json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))["counts"])
    unknown = sorted(set(tp["warning_codes"]) - known)
    if unknown:
        raise TriggerError(
            f"triggers.warning_codes {unknown}: not codes of warnings.yaml ({path.with_suffix('.json')})"
        )
    fired = pd.read_parquet(path, columns=["uscc", "code"])
    before = warnings_path(p["warnings"]["out_dir"], previous_month(month))
    if before.exists():  # a warning that persists (a state such as huge capital, no staff) triggers once, when new
        known = pd.read_parquet(before, columns=["uscc", "code"])
        fired = fired.merge(known, on=["uscc", "code"], how="left", indicator=True)
        fired = fired.loc[fired["_merge"] == "left_only", ["uscc", "code"]].reset_index(drop=True)
    return fired


def compute_month(
    p: dict, month: str, previous: pd.DataFrame | None, src: _Sources
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(roster rows, triggers) of ``month`` from its sealed classes and the previous month's roster rows."""
    classes = src.classes(month)
    if classes is None:
        raise TriggerError(f"{month} is not sealed; run riskclass classify first")
    subjects = set() if previous is None else set(previous.loc[previous["status"].isin(ON_ROSTER), "uscc"])
    triggers = fire_triggers(
        month,
        subjects,
        p["triggers"],
        complaints=src.complaints,
        warnings=month_warnings(p, month),
        inspections=src.inspections,
        legal=src.legal,
        classes=classes,
        previous_classes=src.classes(previous_month(month)),
    )
    rows = update_roster(
        month,
        previous,
        classes,
        src.category,
        serious_listed(src.serious, month),
        set(triggers["uscc"]),
        p["triggers"],
    )
    return rows, triggers


def checks_on_roster(inspections: pd.DataFrame, previous: pd.DataFrame | None, month: str) -> dict:
    """Inspections dated in ``month`` of the entities on the roster during it (the roster of the month before), by
    kind: what was made, as the records (snapshot + feedback) know it now. Random checks of general items should be
    0 once plans read the roster; before that, the figure says what the roster would have spared."""
    members = set() if previous is None else set(previous.loc[previous["status"].isin(ON_ROSTER), "uscc"])
    start, end = window(month)
    done = inspections[
        inspections["uscc"].isin(members).to_numpy()
        & (inspections["inspection_date"] >= start).to_numpy()
        & (inspections["inspection_date"] <= end).to_numpy()
    ]
    rnd = done["draw_type"].isin(["undirected", "directed"])
    return {
        "triggered": int((done["draw_type"] == "triggered").sum()),
        "random_general": int((rnd & (done["item_type"] == "general")).sum()),
        "random_key": int((rnd & (done["item_type"] == "key")).sum()),
    }


def month_summary(month: str, rows: pd.DataFrame, triggers: pd.DataFrame) -> dict:
    on = rows[rows["status"].isin(ON_ROSTER)]
    removed = rows[rows["status"] == "removed"]
    return {
        "month": month,
        "roster": len(on),
        "roster_by_category": {str(k): int(v) for k, v in on["category"].value_counts().sort_index().items()},
        "roster_by_class": {str(k): int(v) for k, v in on["class"].value_counts().sort_index().items()},
        "enrolled": int((rows["status"] == "enrolled").sum()),
        "renewed": int((rows["status"] == "renewed").sum()),
        "removed": len(removed),
        "removed_by_reason": {str(k): int(v) for k, v in removed["reason"].value_counts().sort_index().items()},
        "grace_ended": int((rows["status"] == "grace_ended").sum()),
        "waiting_to_reenrol": int((rows["status"] == "barred").sum()),
        "triggers_fired": len(triggers),
        "triggers_by_kind": {k: int((triggers["kind"] == k).sum()) for k in KINDS},
        "entities_triggered": int(triggers["uscc"].nunique()),
    }


def _write(out_dir: Path, month: str, rows: pd.DataFrame, triggers: pd.DataFrame, extra: dict) -> dict:
    with atomic_file(roster_path(out_dir, month), private=True) as tmp:
        write_parquet(rows, tmp, private=True)
    with atomic_file(triggers_path(out_dir, month), private=True) as tmp:
        write_parquet(triggers, tmp, private=True)
    manifest = {
        **month_summary(month, rows, triggers),
        "files": {
            roster_path(out_dir, month).name: sha256_file(roster_path(out_dir, month)),
            f"{TRIGGER_DIR}/{month}.parquet": sha256_file(triggers_path(out_dir, month)),
        },
        **extra,
    }
    with atomic_file(roster_path(out_dir, month).with_suffix(".json"), private=True) as tmp:  # last: complete
        write_json(manifest, tmp)
    return manifest


def _differs(rows: pd.DataFrame, triggers: pd.DataFrame, out_dir: Path, month: str) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        fresh = {
            roster_path(out_dir, month): (rows, Path(tmp) / "r.parquet"),
            triggers_path(out_dir, month): (triggers, Path(tmp) / "t.parquet"),
        }
        out = []
        for stored, (frame, scratch) in fresh.items():
            write_parquet(frame, scratch)
            if sha256_file(scratch) != sha256_file(stored):
                out.append(str(stored))
        return out


def run_roster(p: dict, month: str, replace: bool = False) -> list[dict]:
    """Every sealed month up to ``month`` in order: made when missing, compared when stored (kept unless
    ``replace``). Returns one summary per month with its ``status`` (written / unchanged / kept / replaced)."""
    check_month(month)
    tp = p["triggers"]
    out_dir = Path(tp["out_dir"])
    src = _Sources(p)
    months = [m for m in src.store.sealed_months() if m <= month]
    if month not in months:
        raise TriggerError(f"{month} is not sealed in {src.store.root}; run riskclass classify first")
    done, previous = [], None
    for m in months:
        made = checks_on_roster(src.inspections, previous, m)
        rows, triggers = compute_month(p, m, previous, src)
        stored = read_month(out_dir, m)
        if stored is None:
            summary = {**_write(out_dir, m, rows, triggers, {}), "status": "written"}
        else:
            differ = _differs(rows, triggers, out_dir, m)
            manifest = json.loads(roster_path(out_dir, m).with_suffix(".json").read_text(encoding="utf-8"))
            if not differ:
                summary = {**manifest, "status": "unchanged"}
            elif replace:
                history = [*manifest.get("replaced", []), manifest["files"]]
                summary = {**_write(out_dir, m, rows, triggers, {"replaced": history}), "status": "replaced"}
            else:
                rows, triggers = stored  # what the next plan was drawn from stays the record
                summary = {**manifest, "status": "kept", "differs": differ}
        done.append({**summary, "checks_made_on_roster": made})
        previous = rows
    write_metrics(tp["metrics"], done)
    return done


def write_metrics(path: Path | str, months: list[dict]) -> None:
    """``reports/roster.json``: the last month in full, and the history month by month."""
    last = months[-1]
    keys = (
        "roster",
        "enrolled",
        "removed",
        "grace_ended",
        "triggers_fired",
        "entities_triggered",
        "checks_made_on_roster",
    )
    figures = {
        **{k: v for k, v in last.items() if k not in ("files", "replaced", "status", "differs")},
        "triggered_checks_requested": last["entities_triggered"],  # one check per triggered entity, next plan
        "history": [{"month": m["month"], **{k: m[k] for k in keys}} for m in months],
    }
    with atomic_file(Path(path)) as tmp:
        write_json(json_ready(figures, 4), tmp)
