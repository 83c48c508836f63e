"""Record integrity that does not trust the CSV parser, and encodings decided by evidence.

A CSV parser that swallows a stray quote or a cut field returns fewer, merged rows without an error,
and counting rows after parsing can never notice. This module reads the raw bytes a second,
independent way: a quote-aware scan (RFC 4180: fields may be enclosed in double quotes, a quote inside
them is doubled, records end with LF or CRLF outside quotes) that finds every record terminator, the
number of fields of every record and where every record starts, vectorised with numpy over the byte
buffer (no per-character Python loop). The reader compares the parser's rows with these records and
refuses the file when they differ.

The scan works on bytes, so it only relies on the encodings ingest accepts (UTF-8 and GB18030), in
which the bytes of ``"``, ``,``, CR, LF and NUL never occur inside a multi-byte character.

Nothing here knows the contract: it takes bytes and returns arrays, findings or a ``Refusal``
(the reader turns a refusal into a ``RawFileError`` naming the file).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections import Counter
from dataclasses import dataclass

import numpy as np

#: A field longer than this many characters quarantines its record (rule ``oversized_field``).
MAX_FIELD_CHARS = 10_000

#: Bytes scanned per step: small enough for the step's arrays to stay in cache (and reused by the allocator).
SCAN_CHUNK = 1 << 20

#: Quarantine rules found on the raw record, before any value is checked.
RECORD_RULES = {
    "field_count": "the record has more or fewer fields than the header (its columns would be shifted); "
    "the raw line is kept",
    "nul_byte": "the record contains a NUL byte (a damaged export); the value is kept whole, never cut at the NUL",
    "oversized_field": f"a field is longer than {MAX_FIELD_CHARS:,} characters",
    "no_final_newline": "the last line of the file has no line break: the file may have been cut inside this record",
}


# Evidence thresholds for Big5 read as GB18030 (see ``big5_evidence``).
BIG5_MIN_CHARACTERS = 8  # fewer non-ASCII characters than this are no evidence either way
BIG5_MIN_RARE_SHARE = 0.30  # GB18030 reading: share of characters outside GB2312's hanzi and punctuation
BIG5_MIN_COMMON_SHARE = 0.70  # Big5 reading: share of characters among Big5's frequent hanzi and punctuation
UTF16_MIN_NUL_SHARE = 0.10  # share of NUL bytes in the first 64 KiB that makes NUL interleaving plausible
UTF16_MIN_PARITY = 0.90  # share of those NULs on one byte parity (every other byte) for UTF-16

_NUL, _LF, _CR, _QUOTE, _DELIM = 1, 2, 3, 4, 5
_CLASS = np.zeros(256, dtype=np.uint8)
_CLASS[[0x00, 0x0A, 0x0D, 0x22, 0x2C]] = [_NUL, _LF, _CR, _QUOTE, _DELIM]
_HIGHEST_SPECIAL = 0x2C  # every special byte is <= ',' (a cheap first filter)
_FIELD_START = np.zeros(256, dtype=bool)  # bytes before an opening quote (RFC 4180)
_FIELD_START[[0x2C, 0x0A]] = True
_OPEN_AFTER = _FIELD_START.copy()  # ... or the closing quote of a doubled quote ("")
_OPEN_AFTER[0x22] = True
_FIELD_END = np.zeros(256, dtype=bool)  # bytes after a closing quote
_FIELD_END[[0x2C, 0x0A, 0x0D, 0x22]] = True  # '"' after a closing quote is the second half of an escape
_BLANK = b" \t\r"  # a record of only these bytes is a blank line (what pandas skips too)


class Refusal(Exception):
    """The bytes cannot be read as records; the message names the evidence and the line."""


@dataclass
class Scan:
    """Records of a raw CSV buffer, found on the bytes.

    ``starts[i]`` is the byte offset where record *i* starts, ``ends[i]`` the offset of its
    terminating LF (the file size for a last record without one), ``fields[i]`` its number of fields
    (delimiters outside quotes + 1), ``lines[i]`` the 1-based physical line where it starts.
    """

    starts: np.ndarray
    ends: np.ndarray
    fields: np.ndarray
    lines: np.ndarray
    terminated: bool  # the last record ends with a line break
    nul: np.ndarray  # offsets of NUL bytes
    first_suspect_quote: int | None  # first quote RFC 4180 does not allow there (a hint for messages)
    quoted_line_breaks: int = 0  # line breaks inside quoted fields (a parser must be told values hold them)

    def record_of(self, offsets: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.starts, offsets, side="right") - 1


def scan_records(buf: bytes, encoding: str = "utf-8", chunk: int = SCAN_CHUNK) -> Scan:
    """Find every record of an RFC 4180 byte buffer without parsing it.

    A byte is inside a quoted field when an odd number of quotes precede it (a doubled quote inside a
    field toggles twice). Per chunk of ``chunk`` bytes: the bytes <= ',' are listed with ``flatnonzero``
    and classified through a lookup table; the parity of a cumulative count of the quotes among them
    gives every LF, CR and delimiter its quote state; LFs outside quotes end records, and a cumulative
    count of the delimiters outside quotes, taken at each record end, gives every record its fields.
    Quotes alternate opener, closer; an opener must follow a delimiter, a line break or a closer
    (``""``), a closer must precede one of these or a CR — the first quote that does not is kept as a
    hint for messages. Refuses a buffer that ends inside a quoted field, a bare CR outside quotes (a
    line end a parser would split on), and a stray quote: a quoted field that opened at a field start,
    ran over a line break and closed in the middle of a field, joining lines into one record.
    """
    arr = np.frombuffer(buf, dtype=np.uint8)
    n = len(arr)
    quotes_before = 0
    last_quote = -1  # offset of the last quote seen (the opener of the next closer)
    last_inside_lf = -1  # offset of the last LF inside quotes seen
    terms, inside_lfs, nuls, counts_parts = [], [], [], []
    carry = 0  # delimiters of the record still open at the end of the previous chunk
    suspect: int | None = None
    bom = buf.startswith(codecs.BOM_UTF8)
    for s in range(0, n, chunk):
        a = arr[s : s + chunk]
        cand = np.flatnonzero(a <= _HIGHEST_SPECIAL)
        cls = _CLASS[a[cand]]
        keep = cls != 0
        pos = cand[keep] + s
        cls = cls[keep]
        is_quote = cls == _QUOTE
        n_quotes = int(np.count_nonzero(is_quote))
        if n_quotes:  # quote state of every special: the parity of the quotes before it
            inside = (np.cumsum(is_quote, dtype=np.int32) & 1).astype(bool) ^ is_quote
            if quotes_before & 1:
                inside = ~inside
        else:
            inside = np.full(len(cls), bool(quotes_before & 1))
        is_lf = cls == _LF
        lf = pos[is_lf]
        is_term = is_lf & ~inside
        at_term = np.flatnonzero(is_term)
        term = pos[at_term]
        terms.append(term)
        # delimiters outside quotes up to each terminator; their differences are the records' delimiter counts
        delims = np.cumsum((cls == _DELIM) & ~inside, dtype=np.int64)
        upto = delims[at_term]
        counts = np.diff(upto, prepend=0)
        if len(counts):
            counts[0] += carry
            carry = int(delims[-1] - upto[-1])
        else:
            carry += int(delims[-1]) if len(delims) else 0
        counts_parts.append(counts)
        nuls.append(pos[cls == _NUL])
        cr = pos[(cls == _CR) & ~inside]
        if len(cr):
            following = arr[np.minimum(cr + 1, n - 1)]
            bare = cr[(following != 0x0A) & (cr != n - 1)]
            if len(bare):
                raise Refusal(
                    f"line {line_of(buf, int(bare[0]))}: a carriage return (CR) without a line feed outside "
                    f"quotes {excerpt(buf, int(bare[0]), encoding)}; records must end with LF or CRLF, and a parser "
                    "would split the record there"
                )
        q = pos[is_quote]
        if len(q):
            first_closer = 1 - (quotes_before & 1)  # quotes alternate: opener, closer, opener ...
            openers, closers = q[1 - first_closer :: 2], q[first_closer::2]
            bad_open = ~_OPEN_AFTER[arr[np.maximum(openers - 1, 0)]] & (openers != 0)
            if bom and len(openers) and openers[0] == 3:
                bad_open[0] = False
            bad_close = ~_FIELD_END[arr[np.minimum(closers + 1, n - 1)]] & (closers != n - 1)
            if suspect is None and (bad_open.any() or bad_close.any()):
                suspect = int(min(openers[bad_open].min(initial=n), closers[bad_close].min(initial=n)))
            # a quoted field that began at a field start, ran over a line break and closed in the middle
            # of a field: the parser joined the lines in between into one record (a stray opening quote)
            if bad_close.any():
                stray = np.flatnonzero(bad_close) * 2 + first_closer  # index of each bad closer in q
                opened = np.concatenate([[last_quote], q])[stray]  # the quote before each closer
                inside_lf = lf[inside[is_lf]]
                k = np.searchsorted(inside_lf, q[stray]) - 1
                candidates = np.concatenate([[last_inside_lf], inside_lf])  # the last LF inside quotes before
                last_lf = candidates[k + 1]
                at_start = _FIELD_START[arr[np.maximum(opened - 1, 0)]] | (opened == 0) | (bom & (opened == 3))
                joined = np.flatnonzero((last_lf > opened) & at_start)
                if len(joined):
                    o, c = int(opened[joined[0]]), int(q[stray[joined[0]]])
                    lo, lc = line_of(buf, o), line_of(buf, c)
                    raise Refusal(
                        f"line {lo}: a stray quote — a quoted field opens here {excerpt(buf, o, encoding)} and runs "
                        f"over {lc - lo} line break(s) to line {lc}, where its closing quote is followed by text "
                        f"{excerpt(buf, c, encoding)}; a parser would join lines {lo}–{lc} into one record"
                    )
            last_quote = int(q[-1])
        inside_lfs_here = lf[inside[is_lf]]
        if len(inside_lfs_here):
            inside_lfs.append(inside_lfs_here)
            last_inside_lf = int(inside_lfs_here[-1])
        quotes_before += n_quotes
    if quotes_before % 2:
        raise Refusal(
            f"line {line_of(buf, last_quote)}: a quote opens a field here and never closes "
            f"{excerpt(buf, last_quote, encoding)}; the file ends inside a quoted field — it was cut, or the quote "
            "is stray"
        )
    term = np.concatenate(terms) if terms else np.zeros(0, dtype=np.int64)
    fields = np.concatenate([*counts_parts, [carry]]).astype(np.int64, copy=False) + 1
    starts = np.concatenate([[0], term + 1]).astype(np.int64, copy=False)
    ends = np.concatenate([term, [n]]).astype(np.int64, copy=False)
    del term, terms, counts_parts
    terminated = True
    if starts[-1] >= n:  # nothing after the last line break: no open record
        starts, ends, fields = starts[:-1], ends[:-1], fields[:-1]
    else:
        terminated = False
    lines = np.arange(1, len(starts) + 1, dtype=np.int64)  # record i starts after i line breaks ...
    if inside_lfs:  # ... and after the line breaks inside quoted fields before it
        lines += np.searchsorted(np.concatenate(inside_lfs), starts)
    return Scan(
        starts=starts,
        ends=ends,
        fields=fields,
        lines=lines,
        terminated=terminated,
        nul=np.concatenate(nuls) if nuls else np.zeros(0, dtype=np.int64),
        first_suspect_quote=suspect,
        quoted_line_breaks=sum(len(x) for x in inside_lfs),
    )


def blank_records(buf: bytes, scan: Scan) -> np.ndarray:
    """True for records that are empty or only spaces, tabs and CRs (a parser skips them)."""
    blank = np.zeros(len(scan.starts), dtype=bool)
    arr = np.frombuffer(buf, dtype=np.uint8)
    candidates = np.flatnonzero(scan.fields == 1)  # a blank line has no delimiter
    if len(candidates):  # a record is not blank when its first byte is not blank; few remain to look at
        first = arr[np.minimum(scan.starts[candidates], max(len(arr) - 1, 0))] if len(arr) else np.zeros(0)
        empty = scan.ends[candidates] <= scan.starts[candidates]
        candidates = candidates[empty | np.isin(first, list(_BLANK))]
    if len(scan.starts) and buf.startswith(codecs.BOM_UTF8):
        candidates = np.union1d(candidates, [0]) if scan.fields[0] == 1 else candidates
    for i in candidates:
        start = scan.starts[i] + (3 if i == 0 and buf.startswith(codecs.BOM_UTF8) else 0)
        blank[i] = not buf[start : scan.ends[i]].strip(_BLANK)
    return blank


def trailing_empty(buf: bytes, scan: Scan, records: np.ndarray) -> np.ndarray:
    """True for records whose last field is empty because the line ends with a delimiter."""
    arr = np.frombuffer(buf, dtype=np.uint8)
    if not len(records) or not len(arr):
        return np.zeros(len(records), dtype=bool)
    end = scan.ends[records]
    last = end - 1
    has_cr = (last >= scan.starts[records]) & (arr[np.maximum(last, 0)] == 0x0D)
    last = last - has_cr
    return (last >= scan.starts[records]) & (arr[np.maximum(last, 0)] == 0x2C)


def record_text(buf: bytes, scan: Scan, i: int, encoding: str) -> str:
    """The exact text of record *i* as it stands in the file, without its line break (nor a leading BOM)."""
    start, end = int(scan.starts[i]), int(scan.ends[i])
    if end > start and buf[end - 1 : end] == b"\r":
        end -= 1
    return buf[start:end].decode(encoding if start == 0 else _plain(encoding), errors="replace")


def split_record(text: str) -> list[str]:
    """The fields of the (first) record in ``text`` as Python's csv module reads them, however long they are."""
    limit = csv.field_size_limit()
    if len(text) >= limit:
        csv.field_size_limit(len(text) + 1)
    try:
        return next(csv.reader(io.StringIO(text, newline="")), [])
    finally:
        csv.field_size_limit(limit)


def field_index(buf: bytes, scan: Scan, i: int, offset: int) -> int:
    """The 0-based field of record *i* that holds byte ``offset``."""
    inside, field = False, 0
    for b in buf[int(scan.starts[i]) : offset]:  # one record, only for the few records reported
        if b == 0x22:
            inside = not inside
        elif b == 0x2C and not inside:
            field += 1
    return field


def _plain(encoding: str) -> str:
    return "utf-8" if encoding == "utf-8-sig" else encoding


def line_of(buf: bytes, offset: int) -> int:
    """The 1-based physical line holding byte ``offset``."""
    return buf.count(b"\n", 0, offset) + 1


def excerpt(buf: bytes, offset: int, encoding: str = "utf-8", width: int = 40) -> str:
    """A short, readable excerpt of the line holding byte ``offset``, around it."""
    start = buf.rfind(b"\n", 0, offset) + 1
    end = buf.find(b"\n", offset)
    end = len(buf) if end < 0 else end
    lo, hi = max(start, offset - 4096), min(end, offset + 4096)
    head = buf[lo:offset].decode(_plain(encoding), errors="replace")
    tail = buf[offset:hi].decode(_plain(encoding), errors="replace")
    text = head[-width:] + tail[:width]
    cut_left, cut_right = lo > start or len(head) > width, hi < end or len(tail) > width
    text = text.replace("\r", "").replace("\ufeff", "")
    return "«" + ("…" if cut_left else "") + repr(text)[1:-1] + ("…" if cut_right else "") + "»"


def sha256(buf: bytes) -> str:
    return hashlib.sha256(buf).hexdigest()


# ---------------------------------------------------------------------------------------------------------------------
# Encodings decided by evidence


def decide_encoding(buf: bytes) -> str:
    """``utf-8-sig``, ``utf-8`` or ``gb18030``, decided over the whole buffer; refuses anything else.

    UTF-16/32 (a byte-order mark, or NUL bytes interleaved with text) and Big5 (which decodes as
    GB18030 without an error, into garbage) are refused with the evidence.
    """
    boms = {
        codecs.BOM_UTF32_LE: "UTF-32 (little-endian)",
        codecs.BOM_UTF32_BE: "UTF-32 (big-endian)",
        codecs.BOM_UTF16_LE: "UTF-16 (little-endian)",
        codecs.BOM_UTF16_BE: "UTF-16 (big-endian)",
    }
    for bom, name in boms.items():
        if buf.startswith(bom):
            raise Refusal(
                f"unreadable encoding: {name} — the file starts with its byte-order mark {bom.hex(' ').upper()}; "
                "export UTF-8 (with or without BOM) or GB18030"
            )
    utf16 = utf16_evidence(buf)
    if utf16:
        raise Refusal(f"unreadable encoding: looks like UTF-16 without a byte-order mark — {utf16}")
    if buf.startswith(codecs.BOM_UTF8):
        failure = _decode_failure(buf, "utf-8", start=3)
        if failure is None:
            return "utf-8-sig"
        raise Refusal(f"unreadable encoding: the file starts with a UTF-8 byte-order mark but {failure}")
    failures = []
    for encoding in ("utf-8", "gb18030"):
        failure = _decode_failure(buf, encoding)
        if failure is None:
            if encoding == "gb18030":
                big5 = big5_evidence(buf)
                if big5:
                    raise Refusal(f"unreadable encoding: looks like Big5 (Traditional Chinese), not GB18030 — {big5}")
            return encoding
        failures.append(failure)
    hint = ""
    if _decode_failure(buf, "cp950") is None:
        hint = "; the bytes decode as Big5 (Traditional Chinese), which ingest does not accept"
    raise Refusal("unreadable encoding: not UTF-8, UTF-8 with BOM or GB18030 (" + "; ".join(failures) + ")" + hint)


def _decode_failure(buf: bytes, encoding: str, start: int = 0) -> str | None:
    """None when the whole buffer decodes; else where it fails (byte and line). Chunked: no full copy."""
    decoder = codecs.getincrementaldecoder(encoding)()
    view = memoryview(buf)
    step = 1 << 22
    offset = start
    try:
        for offset in range(start, len(buf), step):
            decoder.decode(view[offset : offset + step])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        at = offset + exc.start
        return f"{encoding} fails at byte {at} (line {line_of(buf, at)})"
    return None


def utf16_evidence(buf: bytes) -> str | None:
    """Evidence that BOM-less bytes are UTF-16: many NULs, nearly all on one byte parity."""
    sample = np.frombuffer(buf[: 1 << 16], dtype=np.uint8)
    if len(sample) < 4:
        return None
    nul = np.flatnonzero(sample == 0)
    share = len(nul) / len(sample)
    if share < UTF16_MIN_NUL_SHARE:
        return None
    odd = float((nul % 2).mean())
    parity = max(odd, 1 - odd)
    if parity < UTF16_MIN_PARITY:
        return None
    variant = "utf-16-le" if odd >= 0.5 else "utf-16-be"
    text = buf[: min(len(buf), 120) // 2 * 2].decode(variant, errors="replace").split("\n")[0][:40]
    return (
        f"{share:.0%} of the first {len(sample):,} bytes are NUL, {parity:.0%} of them at "
        f"{'odd' if odd >= 0.5 else 'even'} offsets (every other byte, as UTF-16 stores ASCII); "
        f"read as {variant.upper()} it begins '{text}'. Export UTF-8 (with or without BOM) or GB18030"
    )


def _windows(buf: bytes, size: int = 1 << 18) -> list[bytes]:
    """Up to three line-aligned samples (start, middle, end), so evidence does not rest on one place."""
    if len(buf) <= 3 * size:
        return [buf]
    out = []
    for at in (0, len(buf) // 2, len(buf) - size):
        lo = 0 if at == 0 else buf.find(b"\n", at) + 1
        hi = buf.rfind(b"\n", lo, lo + size)
        if lo > 0 and hi > lo:
            out.append(buf[lo:hi])
        elif at == 0 and hi > 0:
            out.append(buf[:hi])
    return out


def _common_in(codec: str, first_lead: int, last_lead: int):
    """A test for a frequent character of ``codec``: a two-byte character whose lead byte lies in
    ``first_lead``–``last_lead`` (its frequent hanzi) or in A1–A3 (punctuation, symbols, full-width forms)."""

    def common(ch: str) -> bool:
        try:
            b = ch.encode(codec)
        except UnicodeEncodeError:
            return False
        return len(b) == 2 and (first_lead <= b[0] <= last_lead or 0xA1 <= b[0] <= 0xA3)

    return common


_gb2312_common = _common_in("gb2312", 0xB0, 0xF7)  # GB2312 hanzi, levels 1 and 2
_big5_common = _common_in("cp950", 0xA4, 0xC6)  # Big5 frequent hanzi (level 1)


def _share(text: str, common) -> tuple[float, int]:
    counts = Counter(ch for ch in text if ord(ch) > 0x7F)
    total = sum(counts.values())
    if not total:
        return 0.0, 0
    return sum(v for ch, v in counts.items() if common(ch)) / total, total


def big5_evidence(buf: bytes) -> str | None:
    """Evidence that bytes GB18030 decodes without error are really Big5.

    Big5 and GBK share the byte structure (lead 0x81–0xFE, trail 0x40–0xFE), so Big5 text decodes as
    GB18030 without an error, into kana, Greek, Cyrillic, box drawing, private-use and rare CJK
    characters: Big5's frequent hanzi (lead A4–C6) fall on GB2312's symbol rows (A4–A9), its
    unassigned rows (AA–AF, private use in GB18030) and the GBK extension. Genuine Chinese text in
    GB18030 is almost all GB2312 hanzi and punctuation. The file is refused as Big5 when, over samples
    from its start, middle and end: at least ``BIG5_MIN_CHARACTERS`` non-ASCII characters; read as
    GB18030, at least ``BIG5_MIN_RARE_SHARE`` of them lie outside GB2312's hanzi and punctuation;
    and the same bytes decode cleanly as Big5 (cp950) with at least ``BIG5_MIN_COMMON_SHARE`` of
    the characters among Big5's frequent hanzi and punctuation. GBK text with rare characters (喆,
    堃, 玥) does not pass the Big5 decoding: their bytes use GBK lead or trail bytes Big5 lacks.
    """
    samples = _windows(buf)
    try:
        big5_text = "".join(s.decode("cp950") for s in samples)
    except UnicodeDecodeError:
        return None
    gb_text = "".join(s.decode("gb18030", errors="replace") for s in samples)
    gb_common, total = _share(gb_text, _gb2312_common)
    if total < BIG5_MIN_CHARACTERS or 1 - gb_common < BIG5_MIN_RARE_SHARE:
        return None
    b5_common, _ = _share(big5_text, _big5_common)
    if b5_common < BIG5_MIN_COMMON_SHARE:
        return None
    line = next((ln for ln in big5_text.splitlines() if any(ord(c) > 0x7F for c in ln)), "")[:30]
    at = big5_text.find(line) if line else -1
    gb_line = gb_text[at : at + len(line)] if at >= 0 else ""
    return (
        f"read as GB18030, {1 - gb_common:.0%} of {total:,} non-ASCII characters lie outside GB2312's hanzi and "
        f"punctuation (kana, Greek, Cyrillic, private-use, rare CJK; Chinese text in GB18030 stays near 0 %); "
        f"the same bytes decode cleanly as Big5 with {b5_common:.0%} frequent hanzi: "
        f"'{line}' (Big5) vs '{_printable(gb_line)}' (GB18030). Export UTF-8 or GB18030"
    )


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() and not 0xE000 <= ord(ch) <= 0xF8FF else "�" for ch in text)
