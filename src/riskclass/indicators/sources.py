"""Point-in-time sources for indicator definitions, in DuckDB.

Two layers:

1. **Staging** (once per session): every validated table becomes ``stg_<table>``, with each date
   column also as an integer day number ``<name>_day`` (days since 1970-01-01). This is the only
   engine-specific SQL; definitions then need nothing beyond standard SQL arithmetic.
2. **As-of views** (per as-of date): ``v_<source>`` holds only rows dated on or before the as-of
   date (the source's event date), with every end / removal date after the as-of date set to NULL
   (at that date the future was unknown). Dates fixed when a record is created (licence expiry,
   publicity end) stay. Derived sources (``related``, ``investments``, ``holders``) join the
   entity–person–address graph to the states of related entities on the same date.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from riskclass import codes, contract
from riskclass.inspections import feedback_files, load_inspections

# the column that dates each record: rows after the as-of date are invisible
EVENT_DAY = {
    "entities": "established_day",
    "roles": "start_day",
    "changes": "change_day",
    "annual_reports": "filing_day",
    "licences": "issue_day",
    "equity_actions": "start_day",
    "penalties": "decision_day",
    "abnormal_listings": "list_day",
    "serious_violations": "list_day",
    "dishonest_debtors": "publish_day",
    "credit_repairs": "repair_day",
    "inspections": "inspection_day",
    "complaints": "received_day",
    "public_opinion": "publish_day",
    "honours": "award_day",
}
_EXTRA = {
    "entities": {"section", "capital", "established_year"},
    "annual_reports": {"deadline_day", "latest", "previous"},
    "licences": {"renewed"},
    "penalties": {"repaired_day"},
    "inspections": {"problem", "latest"},
}
_RELATED = {
    "uscc",
    "rel_uscc",
    "via",
    "rel_current_rep",
    "rel_alive",
    "rel_abnormal",
    "rel_penalised",
    "rel_revoked",
    "rel_debtor",
    "rel_serious",
}


def _day_name(column: str) -> str:
    return column[: -len("_date")] + "_day" if column.endswith("_date") else column


def _source_columns() -> dict[str, set[str]]:
    out = {}
    for table in contract.TABLES:
        cols = {_day_name(c.name) for c in table.columns}
        out[table.name] = cols | _EXTRA.get(table.name, set())
    out["related"] = _RELATED
    out["investments"] = {"uscc", "rel_uscc", "rel_abnormal", "rel_serious"}
    out["holders"] = {"uscc", "rel_uscc", "rel_abnormal", "rel_serious"}
    return out


SOURCE_COLUMNS: dict[str, set[str]] = _source_columns()


def connect(memory_limit: str, threads: int, database: Path | str = ":memory:") -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(database))
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET threads = {int(threads)}")
    con.execute("SET preserve_insertion_order = false")
    return con


def stage(con: duckdb.DuckDBPyConnection, validated_dir: Path, feedback_dir: Path | None = None) -> None:
    """Load every validated table once, with integer day numbers for dates.

    Inspections include the accepted results of our own plans (``feedback_dir``), so the month after
    a plan's checks the indicators see them.
    """
    for table in contract.TABLES:
        path = validated_path(validated_dir, table)
        source = f"read_parquet('{path.as_posix()}')"
        if table.name == "inspections" and feedback_files(feedback_dir):
            con.register("inspections_with_feedback", load_inspections(validated_dir, feedback_dir))
            source = "inspections_with_feedback"
        con.execute(f"CREATE OR REPLACE TABLE stg_{table.name} AS {stage_select(table, source)}")


def validated_path(validated_dir: Path, table: contract.Table) -> Path:
    path = Path(validated_dir) / f"{table.name}.parquet"
    if not path.exists():
        raise FileNotFoundError(f"{path}: validated table missing (run `riskclass ingest` first)")
    return path


def stage_select(table: contract.Table, source: str) -> str:
    """The staging query of one validated table read from ``source`` (DuckDB SQL; riskclass.spark translates it)."""
    problem_codes = ", ".join(f"'{c}'" for c in codes.inspection_problem_codes())
    select = []
    for col in table.columns:
        if col.kind == "date":
            select.append(
                f"CAST(date_diff('day', DATE '1970-01-01', CAST({col.name} AS DATE)) AS INTEGER) "
                f"AS {_day_name(col.name)}"
            )
        else:
            select.append(col.name)
    if table.name == "entities":
        select.append("substr(industry_code, 1, 1) AS section")
        select.append("CAST(year(CAST(established_date AS DATE)) AS INTEGER) AS established_year")
    if table.name == "annual_reports":
        select.append(
            "CAST(date_diff('day', DATE '1970-01-01', make_date(CAST(report_year AS INTEGER) + 1, 6, 30))"
            " AS INTEGER) AS deadline_day"
        )
    if table.name == "inspections":
        select.append(f"result_code IN ({problem_codes}) AS problem")
    return f"SELECT {', '.join(select)} FROM {source}"


# attributes that become known only with a later event: hidden while that event lies after the date
END_ATTRIBUTES = {"removal_reason": "removal_day", "substantiated": "closed_day"}


def _asof_select(table: contract.Table, as_of: int) -> str:
    cols = []
    for col in table.columns:
        name = _day_name(col.name)
        if col.kind == "date" and not col.future_ok and name != EVENT_DAY[table.name]:
            cols.append(f"CASE WHEN {name} <= {as_of} THEN {name} END AS {name}")
        elif name in END_ATTRIBUTES:
            cols.append(f"CASE WHEN {END_ATTRIBUTES[name]} <= {as_of} THEN {name} END AS {name}")
        elif table.name == "entities" and name == "status":  # closed later = active on the date
            cols.append(f"CASE WHEN status_day <= {as_of} THEN status ELSE 'active' END AS status")
        else:
            cols.append(name)
    extra = [c for c in ("section", "established_year", "deadline_day", "problem") if c in SOURCE_COLUMNS[table.name]]
    return f"SELECT {', '.join(cols + extra)} FROM stg_{table.name} WHERE {EVENT_DAY[table.name]} <= {as_of}"


def create_asof_views(con: duckdb.DuckDBPyConnection, as_of: int) -> None:
    """(Re)create every ``v_<source>`` for one as-of day number."""
    for name, select in asof_views(as_of):
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {select}")


def asof_views(as_of: int) -> list[tuple[str, str]]:
    """Every as-of view for one day number as (name, query) in creation order: DuckDB SQL, the one definition
    both engines run (riskclass.spark translates it)."""
    views = []
    for table in contract.TABLES:
        if table.name in ("entities", "annual_reports", "licences", "penalties", "inspections"):
            views.append((f"base_{table.name}", _asof_select(table, as_of)))
        else:
            views.append((f"v_{table.name}", _asof_select(table, as_of)))
    # every entity established by the date (alive or not), with its capital on the date
    views.append(
        (
            "v_all_entities",
            f"""
        WITH cap_changes AS (
            SELECT uscc, change_id, change_day, capital_before, capital_after FROM stg_changes
            WHERE change_type IN ('capital_up', 'capital_down')
        ),
        last_before AS (
            SELECT uscc, capital_after FROM (
                SELECT uscc, capital_after,
                       ROW_NUMBER() OVER (PARTITION BY uscc ORDER BY change_day DESC, change_id DESC) AS rn
                FROM cap_changes WHERE change_day <= {as_of}) t WHERE rn = 1
        ),
        first_after AS (
            SELECT uscc, capital_before FROM (
                SELECT uscc, capital_before,
                       ROW_NUMBER() OVER (PARTITION BY uscc ORDER BY change_day ASC, change_id ASC) AS rn
                FROM cap_changes WHERE change_day > {as_of}) t WHERE rn = 1
        )
        SELECT e.*, COALESCE(b.capital_after, a.capital_before, e.registered_capital) AS capital,
               CASE WHEN e.status_day IS NULL THEN 1 ELSE 0 END AS alive
        FROM base_entities e
        LEFT JOIN last_before b ON b.uscc = e.uscc
        LEFT JOIN first_after a ON a.uscc = e.uscc
    """,
        )
    )
    views.append(("v_entities", "SELECT * FROM v_all_entities WHERE alive = 1"))
    views.append(
        (
            "v_annual_reports",
            """
        SELECT *, rn = 1 AS latest, rn = 2 AS previous FROM (
            SELECT *, ROW_NUMBER() OVER (PARTITION BY uscc ORDER BY report_year DESC) AS rn FROM base_annual_reports
        ) t
    """,
        )
    )
    views.append(
        (
            "v_licences",
            """
        SELECT *, MAX(issue_day) OVER (PARTITION BY uscc, licence_type) > issue_day AS renewed FROM base_licences
    """,
        )
    )
    views.append(
        (
            "v_penalties",
            """
        SELECT p.*, r.repaired_day FROM base_penalties p
        LEFT JOIN (SELECT uscc, target_id, MIN(repair_day) AS repaired_day FROM v_credit_repairs
                   WHERE target = 'penalty' GROUP BY uscc, target_id) r
          ON r.target_id = p.decision_no AND r.uscc = p.uscc  -- one decision number may name several entities
    """,
        )
    )
    views.append(
        (
            "v_inspections",
            """
        SELECT *, ROW_NUMBER() OVER (PARTITION BY uscc ORDER BY inspection_day DESC, inspection_id DESC) = 1 AS latest
        FROM base_inspections
    """,
        )
    )
    # the state of every entity on the date, for relationship indicators
    views.append(
        (
            "v_state",
            f"""
        SELECT e.uscc, e.alive,
               CASE WHEN e.status = 'revoked' THEN 1 ELSE 0 END AS revoked,
               CASE WHEN ab.uscc IS NOT NULL THEN 1 ELSE 0 END AS abnormal,
               CASE WHEN se.uscc IS NOT NULL THEN 1 ELSE 0 END AS serious,
               CASE WHEN dd.uscc IS NOT NULL THEN 1 ELSE 0 END AS debtor,
               CASE WHEN pe.uscc IS NOT NULL THEN 1 ELSE 0 END AS penalised
        FROM v_all_entities e
        LEFT JOIN (SELECT DISTINCT uscc FROM v_abnormal_listings WHERE removal_day IS NULL) ab ON ab.uscc = e.uscc
        LEFT JOIN (SELECT DISTINCT uscc FROM v_serious_violations WHERE removal_day IS NULL) se ON se.uscc = e.uscc
        LEFT JOIN (SELECT DISTINCT uscc FROM v_dishonest_debtors WHERE removal_day IS NULL) dd ON dd.uscc = e.uscc
        LEFT JOIN (SELECT DISTINCT uscc FROM base_penalties WHERE decision_day > {as_of} - 1095) pe ON pe.uscc = e.uscc
    """,
        )
    )
    views.append(
        (
            "v_related",
            """
        WITH cur_rep AS (
            SELECT DISTINCT uscc, person_key FROM v_roles
            WHERE role = 'legal_rep' AND end_day IS NULL AND person_key IS NOT NULL
        ),
        any_rep AS (
            SELECT DISTINCT uscc, person_key FROM v_roles WHERE role = 'legal_rep' AND person_key IS NOT NULL
        ),
        rep_links AS (
            SELECT c.uscc, a.uscc AS rel_uscc, 'legal_rep' AS via,
                   MAX(CASE WHEN cr.uscc IS NOT NULL THEN 1 ELSE 0 END) AS rel_current_rep
            FROM cur_rep c
            JOIN any_rep a ON a.person_key = c.person_key AND a.uscc <> c.uscc
            LEFT JOIN cur_rep cr ON cr.uscc = a.uscc AND cr.person_key = c.person_key
            GROUP BY c.uscc, a.uscc
        ),
        addr_links AS (
            SELECT e1.uscc, e2.uscc AS rel_uscc, 'address' AS via, 0 AS rel_current_rep
            FROM v_entities e1 JOIN v_all_entities e2 ON e2.address_key = e1.address_key AND e2.uscc <> e1.uscc
        )
        SELECT l.uscc, l.rel_uscc, l.via, l.rel_current_rep, s.alive AS rel_alive, s.abnormal AS rel_abnormal,
               s.penalised AS rel_penalised, s.revoked AS rel_revoked, s.debtor AS rel_debtor,
               s.serious AS rel_serious
        FROM (SELECT * FROM rep_links UNION ALL SELECT * FROM addr_links) l
        JOIN v_state s ON s.uscc = l.rel_uscc
    """,
        )
    )
    views.append(
        (
            "v_investments",
            """
        SELECT r.holder_uscc AS uscc, r.uscc AS rel_uscc, s.abnormal AS rel_abnormal, s.serious AS rel_serious
        FROM v_roles r JOIN v_state s ON s.uscc = r.uscc
        WHERE r.role = 'shareholder' AND r.holder_type = 'enterprise' AND r.end_day IS NULL
    """,
        )
    )
    views.append(
        (
            "v_holders",
            """
        SELECT r.uscc, r.holder_uscc AS rel_uscc, s.abnormal AS rel_abnormal, s.serious AS rel_serious
        FROM v_roles r JOIN v_state s ON s.uscc = r.holder_uscc
        WHERE r.role = 'shareholder' AND r.holder_type = 'enterprise' AND r.end_day IS NULL
    """,
        )
    )
    return views
