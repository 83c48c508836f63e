"""Record integrity that does not trust the CSV parser, and encodings decided by evidence.

Every fixture file is written here by hand (no real data); ``write_snapshot`` keeps the other tables valid.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random

import numpy as np
import pandas as pd
import pytest

from riskclass.ingest import QUARANTINE_COLUMNS, RawFileError, ingest, integrity
from riskclass.ingest.integrity import MAX_FIELD_CHARS, Refusal, scan_records

from conftest import IND_B, valid_rows, write_snapshot


def _ingest(raw, out):
    report = ingest(raw, out, show_progress=False)
    return report, pd.read_parquet(out / "quarantine.parquet")


def _lines(rows: list[dict]) -> list[str]:
    """A table's file as lines, written the way an exporter writes it (csv module, LF)."""
    return pd.DataFrame(rows).to_csv(index=False, lineterminator="\n").split("\n")[:-1]


def _entity_lines(rows: list[dict] | None = None) -> list[str]:
    return _lines(valid_rows()["entities"] if rows is None else rows)


def _penalties(n: int) -> list[dict]:
    """n distinct, valid penalties (the valid one with its decision number counted up)."""
    return [dict(valid_rows()["penalties"][0], decision_no=f"湛市监处罚〔2025〕{i + 1}号") for i in range(n)]


def _refusal(tmp_path, raw) -> str:
    out = tmp_path / "refused"
    with pytest.raises(RawFileError) as err:
        ingest(raw, out, show_progress=False)
    assert not out.exists()  # nothing half-written
    return str(err.value)


# --- the independent count -----------------------------------------------------------------------------------------


def test_file_cut_inside_a_quoted_field_is_refused_naming_the_line(tmp_path):
    raw = write_snapshot(tmp_path / "raw")  # no declared row counts, as real exports
    rows = valid_rows()["entities"]
    rows[1]["name"] = "霞山区,鑫达餐饮店"  # a comma: the exporter quotes the field
    data = "\n".join(_entity_lines(rows)).encode()
    cut = data.index("鑫达餐饮".encode())  # the transfer stopped inside the quoted name on line 3
    (raw / "entities.csv").write_bytes(data[:cut])
    message = _refusal(tmp_path, raw)
    assert "entities.csv: line 3: a quote opens a field here and never closes" in message
    assert "92440803123456789T" in message  # the excerpt shows the record


def test_stray_opening_quote_is_refused_naming_the_line_where_it_opened(tmp_path):
    raw = write_snapshot(tmp_path / "raw")
    rows = _penalties(12)
    rows[8]["facts"] = '发布"最佳"等用语'  # quotes in a text: the exporter quotes the field, rightly
    lines = _lines(rows)
    lines[3] = lines[3].replace(",", ',"', 1)  # a stray quote opens the entity name on line 4
    (raw / "penalties.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # the parser alone joins lines 4–10 into one record that carries line 10's values, without an error
    parsed = pd.read_csv(raw / "penalties.csv", dtype=str, keep_default_na=False)
    assert len(parsed) == 12 - 6
    merged = parsed.iloc[2]
    assert merged["decision_no"] == rows[2]["decision_no"] and merged["entity_name"].count("\n") == 6
    assert merged["uscc"] == rows[8]["basis"] and merged["fine_amount"] == rows[8]["effect_end_date"]  # shifted
    message = _refusal(tmp_path, raw)
    assert "penalties.csv: line 4: a stray quote" in message
    assert "to line 10" in message and "join lines 4–10" in message


def test_an_odd_quote_inside_a_field_is_refused_where_parser_and_scan_differ(tmp_path):
    raw = write_snapshot(tmp_path / "raw")
    rows = _penalties(8)
    rows[1]["content"] = '罚"款'  # a literal quote inside an unquoted field (not RFC 4180): the parser keeps it
    rows[4]["content"] = '罚"款'  # ... and a second one, so the quotes pair up over lines 3–6
    lines = [x.replace('"罚""款"', '罚"款') for x in _lines(rows)]
    (raw / "penalties.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    message = _refusal(tmp_path, raw)
    assert "the CSV parser read 8 records where a byte scan of the file finds 5 records of 18 fields" in message
    assert "they part after the record starting on line 3" in message
    assert "a quote RFC 4180 does not allow there stands on line 3" in message


def test_bare_carriage_return_is_refused(tmp_path):
    raw = write_snapshot(tmp_path / "raw")
    lines = _entity_lines()
    (raw / "entities.csv").write_text("\n".join(lines[:2]) + "\r" + "\n".join(lines[2:]) + "\n", encoding="utf-8")
    assert "line 2: a carriage return (CR) without a line feed" in _refusal(tmp_path, raw)


# --- structural shifts -------------------------------------------------------------------------------------------


def test_trailing_delimiter_on_every_row_is_repaired_with_the_reason(tmp_path):
    raw = write_snapshot(tmp_path / "raw")
    lines = _entity_lines()
    (raw / "entities.csv").write_text("\n".join([lines[0]] + [x + "," for x in lines[1:]]) + "\n", encoding="utf-8")
    report, quarantine = _ingest(raw, tmp_path / "out")
    assert quarantine.empty
    t = report["tables"]["entities"]
    assert t["accepted"] == t["read"] == 3 and t["quarantined"] == 0
    assert t["repairs"] == [
        "trailing delimiter on 3 rows dropped (the header has 18 fields, the rows 19 with an empty last field)"
    ]
    assert report["repairs"] == ["entities: " + t["repairs"][0]]
    entities = pd.read_parquet(tmp_path / "out" / "entities.parquet")
    assert entities["uscc"].tolist() == [r["uscc"] for r in valid_rows()["entities"]]  # not shifted
    assert entities["special_equipment"].tolist() == [False, False, False]


def test_trailing_delimiter_on_header_and_rows_is_repaired_too(tmp_path):
    raw = write_snapshot(tmp_path / "raw")
    lines = _entity_lines()
    (raw / "entities.csv").write_text("\n".join(x + "," for x in lines) + "\n", encoding="utf-8")
    report, _ = _ingest(raw, tmp_path / "out")
    t = report["tables"]["entities"]
    assert t["accepted"] == 3 and t["ignored_columns"] == []
    assert t["repairs"] == ["trailing delimiter on the header and on 3 rows dropped (an empty last field)"]


def test_drifting_field_counts_are_quarantined_with_their_raw_lines(tmp_path):
    raw = write_snapshot(tmp_path / "raw")
    lines = _entity_lines()
    lines[1] += ",extra"  # one field too many: every value after it would be shifted
    lines[3] = lines[3].rsplit(",", 2)[0]  # two fields short
    (raw / "entities.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report, quarantine = _ingest(raw, tmp_path / "out")
    assert report["tables"]["entities"]["accepted"] == 1
    hits = quarantine[quarantine["rule"] == "field_count"]
    assert hits["row"].tolist() == [2, 4]
    assert hits["raw_line"].tolist() == [lines[1], lines[3]]  # exactly as in the file: the real USCC is kept
    assert hits["message"].tolist() == [
        "19 fields where the header has 18; the raw line is kept",
        "16 fields where the header has 18; the raw line is kept",
    ]
    assert report["totals"]["reconciled"]


def test_a_trailing_delimiter_file_still_quarantines_rows_that_drift(tmp_path):
    raw = write_snapshot(tmp_path / "raw")
    lines = _lines(_penalties(5))
    body = [x + "," for x in lines[1:]]
    body[2] = lines[3]  # this row lacks the trailing delimiter the others have
    (raw / "penalties.csv").write_text("\n".join([lines[0], *body]) + "\n", encoding="utf-8")
    report, quarantine = _ingest(raw, tmp_path / "out")
    assert report["tables"]["penalties"]["accepted"] == 4
    hit = quarantine[quarantine["table"] == "penalties"]
    assert hit["rule"].tolist() == ["field_count"] and hit["row"].tolist() == [4]
    assert "after the trailing delimiter of this file" in hit["message"].iloc[0]


# --- raw lines and physical line numbers ----------------------------------------------------------------------------


def test_quarantine_keeps_the_raw_line_and_the_new_column_comes_last(tmp_path):
    rows = valid_rows()
    rows["complaints"][0]["channel"] = "??"
    raw = write_snapshot(tmp_path / "raw", rows)
    _, quarantine = _ingest(raw, tmp_path / "out")
    assert list(quarantine.columns) == QUARANTINE_COLUMNS
    assert QUARANTINE_COLUMNS[-1] == "raw_line" and QUARANTINE_COLUMNS[:8] == [
        "table", "file", "row", "column", "rule", "value", "message", "record"
    ]  # fmt: skip
    expected = (raw / "complaints.csv").read_text(encoding="utf-8").split("\n")[1]
    assert quarantine["raw_line"].tolist() == [expected]
    csv_copy = pd.read_csv(tmp_path / "out" / "quarantine.csv", dtype=str, encoding="utf-8-sig")
    assert csv_copy["raw_line"].tolist() == [expected]


def test_whitespace_only_and_blank_lines_are_skipped_counted_and_rows_keep_their_physical_line(tmp_path):
    raw = write_snapshot(tmp_path / "raw")
    rows = valid_rows()["entities"]
    rows[0]["name"] = "湛江市鑫达\n贸易有限公司"  # a quoted newline: the record spans lines 2–3
    rows[2]["division_code"] = "999999"  # a bad value on the last record
    lines = _entity_lines(rows)  # header, 2 lines of record 1, record 2, record 3
    text = "\n".join([*lines[:4], "", "   \t", "\r", *lines[4:]]) + "\n"  # three blank lines before record 3
    (raw / "entities.csv").write_text(text, encoding="utf-8")
    report, quarantine = _ingest(raw, tmp_path / "out")
    t = report["tables"]["entities"]
    assert t["blank_lines_skipped"] == 3 and t["read"] == 3 and t["scanned_records"] == 3
    physical = text.split("\n").index(lines[4]) + 1
    assert physical == 8
    hit = quarantine[quarantine["table"] == "entities"]
    assert hit["row"].tolist() == [physical]
    assert hit["raw_line"].iloc[0] == lines[4]
    entities = pd.read_parquet(tmp_path / "out" / "entities.parquet")
    assert entities["name"].iloc[0] == "湛江市鑫达\n贸易有限公司"


def test_row_numbers_after_a_title_row_crlf_and_a_quoted_newline(tmp_path):
    raw = write_snapshot(tmp_path / "raw")
    rows = valid_rows()["honours"] * 3
    rows = [dict(r, honour_id=f"RY{i}") for i, r in enumerate(rows)]
    rows[0]["honour_type"] = "a_\r\ntaxpayer"  # a bad value spanning two lines
    rows[2]["award_date"] = "2025-02-30"
    body = pd.DataFrame(rows).to_csv(index=False, lineterminator="\r\n")
    (raw / "honours.csv").write_bytes(("荣誉信息\r\n" + body).encode("gb18030"))
    report, quarantine = _ingest(raw, tmp_path / "out")
    assert report["tables"]["honours"]["header_line"] == 2
    hit = quarantine[quarantine["table"] == "honours"]
    assert hit["row"].tolist() == [3, 6]  # title 1, header 2, record 1 on lines 3–4, record 2 on 5, record 3 on 6
    assert hit["raw_line"].iloc[0].startswith("RY0,") and "a_\r\ntaxpayer" in hit["raw_line"].iloc[0]


# --- encodings by evidence ----------------------------------------------------------------------------------------

# Traditional-Chinese company names, as a Big5 export from Taiwan or Hong Kong would carry them
BIG5_NAMES = [
    "臺北市信義區鑫達貿易有限公司",
    "高雄市前鎮區永豐餐飲店",
    "新竹縣竹北市宏達農業合作社",
    "台灣積體電路製造股份有限公司",
    "鴻海精密工業股份有限公司",
    "國泰人壽保險股份有限公司",
]


def test_big5_file_is_refused_with_the_evidence(tmp_path):
    raw = write_snapshot(tmp_path / "raw")
    rows = [dict(valid_rows()["penalties"][0]) for _ in BIG5_NAMES]
    for i, (row, name) in enumerate(zip(rows, BIG5_NAMES, strict=True)):
        row.update(decision_no=f"北市處罰〔2025〕{i + 1}號", entity_name=name, content="罰款", authority="臺北市政府")
    frame = pd.DataFrame(rows)
    text = frame.to_csv(index=False, lineterminator="\n")
    (raw / "penalties.csv").write_bytes(text.encode("big5"))
    text.encode("big5").decode("gb18030")  # the trap: Big5 bytes decode as GB18030 without any error
    message = _refusal(tmp_path, raw)
    assert "penalties.csv: unreadable encoding: looks like Big5 (Traditional Chinese), not GB18030" in message
    assert "outside GB2312's hanzi and punctuation" in message and "decode cleanly as Big5" in message
    assert "臺北市信義區鑫達貿易有限公司" in message  # the Big5 reading, next to the garbled GB18030 one


def test_genuine_gb18030_with_rare_characters_is_not_mistaken_for_big5(tmp_path):
    rows = valid_rows()
    names = ["湛江市喆堃贸易有限公司", "霞山区玥珺餐饮店", "廉江市祎旻农业专业合作社"]  # characters outside GB2312
    for row, name in zip(rows["entities"], names, strict=True):
        row["name"] = name
    raw = write_snapshot(tmp_path / "raw", rows)
    text = (raw / "entities.csv").read_text(encoding="utf-8")
    (raw / "entities.csv").write_bytes(text.encode("gb18030"))
    report, _ = _ingest(raw, tmp_path / "out")
    assert report["tables"]["entities"]["encoding"] == "gb18030"
    assert pd.read_parquet(tmp_path / "out" / "entities.parquet")["name"].tolist() == names
    traditional = "\n".join(BIG5_NAMES).encode("gb18030")  # traditional characters, but encoded as GB18030
    assert integrity.decide_encoding(traditional) == "gb18030"


@pytest.mark.parametrize(
    ("encoding", "evidence"),
    [
        ("utf-16", "UTF-16 (little-endian) — the file starts with its byte-order mark FF FE"),
        ("utf-16-le", "looks like UTF-16 without a byte-order mark — "),
        ("utf-16-be", "at even offsets (every other byte, as UTF-16 stores ASCII); read as UTF-16-BE it begins"),
    ],
)
def test_utf16_file_is_refused_with_the_evidence(tmp_path, encoding, evidence):
    raw = write_snapshot(tmp_path / "raw")
    table = pd.DataFrame(valid_rows()["penalties"])
    (raw / "penalties.csv").write_bytes(table.to_csv(index=False, lineterminator="\n").encode(encoding))
    message = _refusal(tmp_path, raw)
    assert "penalties.csv: unreadable encoding" in message and evidence in message


def test_nul_byte_quarantines_the_record_and_never_truncates_the_value(tmp_path):
    raw = write_snapshot(tmp_path / "raw")
    data = (
        (raw / "entities.csv")
        .read_bytes()
        .replace("霞山区鑫达".encode(), "霞山区".encode() + b"\x00" + "鑫达".encode())
    )
    (raw / "entities.csv").write_bytes(data)
    report, quarantine = _ingest(raw, tmp_path / "out")
    hit = quarantine[quarantine["rule"] == "nul_byte"]
    assert hit["row"].tolist() == [3] and hit["column"].tolist() == ["name"]
    assert hit["value"].iloc[0] == "霞山区\\x00鑫达餐饮店"  # the whole value, the NUL shown
    assert hit["raw_line"].iloc[0].startswith(f"{IND_B},霞山区\x00鑫达餐饮店,")  # the exact text
    assert report["tables"]["entities"]["accepted"] == 2


def test_oversized_field_is_quarantined_without_a_crash(tmp_path):
    raw = write_snapshot(tmp_path / "raw")
    lines = (raw / "complaints.csv").read_text(encoding="utf-8").split("\n")
    huge = "长" * 140_000
    lines[1] = lines[1].replace("12315", huge)
    (raw / "complaints.csv").write_text("\n".join(lines), encoding="utf-8")
    report, quarantine = _ingest(raw, tmp_path / "out")
    hit = quarantine[quarantine["rule"] == "oversized_field"]
    assert hit["row"].tolist() == [2] and hit["column"].tolist() == ["channel"]
    assert f"140,000 characters, more than the limit of {MAX_FIELD_CHARS:,}" in hit["message"].iloc[0]
    assert len(hit["value"].iloc[0]) < 300  # the value is shortened for reading ...
    assert huge in hit["raw_line"].iloc[0]  # ... the raw line keeps all of it
    assert report["tables"]["complaints"]["quarantined"] == 1


def test_last_line_without_line_break_is_quarantined_not_the_file(tmp_path):
    raw = write_snapshot(tmp_path / "raw")
    lines = _lines(_penalties(4))
    cut = lines[4][: lines[4].index("2028-06-01") + 7]  # the transfer stopped inside the last date: 2028-06
    (raw / "penalties.csv").write_text("\n".join([*lines[:4], cut]), encoding="utf-8")
    report, quarantine = _ingest(raw, tmp_path / "out")
    hit = quarantine[(quarantine["table"] == "penalties") & (quarantine["rule"] == "no_final_newline")]
    assert hit["row"].tolist() == [5] and hit["raw_line"].tolist() == [cut]
    assert "the file may have been cut" in hit["message"].iloc[0]
    assert report["tables"]["penalties"]["accepted"] == 3  # the three whole records


def test_a_complete_last_line_without_line_break_is_still_suspect(tmp_path):
    raw = write_snapshot(tmp_path / "raw")
    (raw / "honours.csv").write_text((raw / "honours.csv").read_text(encoding="utf-8").rstrip("\n"), encoding="utf-8")
    report, quarantine = _ingest(raw, tmp_path / "out")
    assert quarantine["rule"].tolist() == ["no_final_newline"]
    assert report["tables"]["honours"]["quarantined"] == 1


# --- declared counts and checksums ---------------------------------------------------------------------------------


def test_every_table_without_a_declared_row_count_is_warned_about(tmp_path):
    raw = write_snapshot(tmp_path / "raw")
    counts = {name: {"rows": len(rows)} for name, rows in valid_rows().items() if name != "penalties"}
    (raw / "snapshot.json").write_text(json.dumps({"snapshot_date": "2026-10-31", "tables": counts}))
    report, _ = _ingest(raw, tmp_path / "out")
    assert report["warnings"] == ["penalties: no declared row count — a file cut at a line break cannot be detected"]
    assert report["tables"]["honours"]["declared_rows"] == 1
    assert report["tables"]["penalties"]["declared_rows"] is None
    # a file cut exactly at a line break is caught by the declared count
    lines = _entity_lines()
    (raw / "entities.csv").write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")
    counts["entities"] = {"rows": 3}
    (raw / "snapshot.json").write_text(json.dumps({"snapshot_date": "2026-10-31", "tables": counts}))
    assert "snapshot.json declares 3 rows, the file has 2" in _refusal(tmp_path, raw)


def test_no_declared_counts_warns_for_every_csv_table(tmp_path):
    raw = write_snapshot(tmp_path / "raw")
    report, _ = _ingest(raw, tmp_path / "out")
    assert len(report["warnings"]) == len(valid_rows())
    assert all("no declared row count" in w for w in report["warnings"])


def test_declared_sha256_is_verified(tmp_path):
    raw = write_snapshot(tmp_path / "raw")
    digest = hashlib.sha256((raw / "honours.csv").read_bytes()).hexdigest()
    manifest = {"snapshot_date": "2026-10-31", "tables": {"honours": {"rows": 1, "sha256": digest}}}
    (raw / "snapshot.json").write_text(json.dumps(manifest))
    report, _ = _ingest(raw, tmp_path / "out")
    assert report["tables"]["honours"]["sha256"] == digest
    manifest["tables"]["honours"]["sha256"] = hashlib.sha256(b"another file").hexdigest()
    (raw / "snapshot.json").write_text(json.dumps(manifest))
    message = _refusal(tmp_path, raw)
    assert "honours.csv: checksum mismatch: snapshot.json declares sha256" in message
    manifest["tables"]["honours"]["sha256"] = "not a digest"
    (raw / "snapshot.json").write_text(json.dumps(manifest))
    assert "tables.honours.sha256 must be 64 hexadecimal digits" in _refusal(tmp_path, raw)


# --- the scan itself -----------------------------------------------------------------------------------------------

# no bare CR: Python's csv writer leaves it unquoted under LF line ends, and such a file is refused (above)
_ALPHABET = ["a", "Z", "9", " ", ",", '"', "\n", "\r\n", "湛", "江", "·", "，", "\t", "'"]


def _random_records(rng: random.Random, n: int) -> list[list[str]]:
    out = []
    for _ in range(n):
        fields = rng.randint(1, 6)
        out.append(["".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 6))) for _ in range(fields)])
    return [r for r in out if r != [""]]  # csv writes a lone empty field as "", kept; a bare empty line is not a record


@pytest.mark.parametrize("seed", range(6))
def test_scan_agrees_with_an_rfc4180_reader_on_random_records(seed):
    rng = random.Random(seed)
    records = _random_records(rng, 400)
    out = io.StringIO(newline="")
    quoting = csv.QUOTE_ALL if seed % 2 else csv.QUOTE_MINIMAL
    csv.writer(out, quoting=quoting, lineterminator="\r\n" if seed % 3 == 0 else "\n").writerows(records)
    encoding = "gb18030" if seed % 2 else "utf-8"
    buf = out.getvalue().encode(encoding)
    expected = [len(r) for r in csv.reader(io.StringIO(out.getvalue(), newline=""))]
    lines, line = [], 1  # physical lines are LF-terminated (as wc -l, sed and awk count them)
    for record in records:
        one = io.StringIO(newline="")
        csv.writer(one, quoting=quoting, lineterminator="\r\n" if seed % 3 == 0 else "\n").writerow(record)
        lines.append(line)
        line += one.getvalue().count("\n")
    scan = scan_records(buf, chunk=97 + seed * 31)  # small chunks: records, quotes and CRLFs cross their edges
    assert scan.fields.tolist() == expected
    assert scan.lines.tolist() == lines
    assert scan.terminated
    texts = [integrity.record_text(buf, scan, i, encoding) for i in range(len(records))]
    assert [integrity.split_record(t) for t in texts] == records


def test_scan_of_a_file_without_final_line_break_and_of_an_empty_buffer():
    scan = scan_records(b"a,b\n1,2\n3,")
    assert scan.fields.tolist() == [2, 2, 2] and not scan.terminated and scan.ends[-1] == 10
    empty = scan_records(b"")
    assert len(empty.starts) == 0 and empty.terminated
    with pytest.raises(Refusal, match="line 2: a quote opens a field here and never closes"):
        scan_records(b'a,b\n1,"2\n3,4\n')


def test_scan_speed_is_reported_in_mb_per_second():
    line = ("91440802123456789F,湛江市鑫达贸易有限公司,enterprise,llc,F5199,440802,100,20,2015-03-02,active,,"
            "A440802000001,12,false,false,false,false,false\n").encode()  # fmt: skip
    buf = line * 60_000  # ~10 MB
    import time

    start = time.perf_counter()
    scan = scan_records(buf)
    seconds = time.perf_counter() - start
    assert len(scan.starts) == 60_000 and np.all(scan.fields == 18)
    assert len(buf) / 1e6 / seconds > 20  # a loose floor (~250 MB/s measured): a per-character loop gives ~5


@pytest.mark.parametrize("chunk", [7, 64, 1 << 20])
def test_scan_findings_do_not_depend_on_where_the_chunks_end(chunk):
    lines = _lines(_penalties(6))
    ok = ("\n".join(lines) + "\n").encode()
    assert scan_records(ok, chunk=chunk).fields.tolist() == [18] * 7
    stray = "\n".join([lines[0], lines[1].replace(",", ',"', 1), *lines[2:4], lines[4].replace(",,", ',"x""y",', 1)])
    with pytest.raises(Refusal, match=r"line 2: a stray quote .* to line 5"):
        scan_records((stray + "\n").encode(), chunk=chunk)
    with pytest.raises(Refusal, match="line 3: a quote opens a field here and never closes"):
        scan_records(("\n".join(lines[:2]) + '\n"' + "\n".join(lines[2:])).encode(), chunk=chunk)
    with pytest.raises(Refusal, match="line 4: a carriage return"):
        scan_records(("\n".join(lines[:3]) + "\nab\rc\n").encode(), chunk=chunk)
