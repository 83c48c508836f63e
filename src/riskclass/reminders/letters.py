"""Printable reminder letters (信用风险提示函): one self-contained HTML file per district, one letter per page.

No script, style sheet or font is loaded from outside the file (riskclass.reporting.check_offline), so the
letters print the same on an intranet PC. Print CSS breaks the page after every letter. The visible text of
the page, apart from the addressees' own names, passes the guard before the file is written.
"""

from __future__ import annotations

from html import escape

import pandas as pd

from riskclass import codes
from riskclass.reminders.guard import check_html, check_text
from riskclass.reporting import HTML_FONT_STACK, check_offline

_DIGITS = "零一二三四五六七八九"

STYLE = f"""
@page {{ size: A4; margin: 18mm 20mm; }}
body {{ font-family: {HTML_FONT_STACK}; color: #111; margin: 0; line-height: 1.75; font-size: 12pt; }}
.letter {{ max-width: 760px; margin: 0 auto; padding: 32px 40px; break-after: page; page-break-after: always; }}
.letter:last-of-type {{ break-after: auto; page-break-after: auto; }}
.letter h1 {{ text-align: center; font-size: 20pt; letter-spacing: 6px; margin: 0 0 4px; }}
.letter .no {{ text-align: right; font-size: 10pt; color: #444; margin: 0 0 16px; }}
.letter h2 {{ font-size: 12.5pt; margin: 14px 0 2px; }}
.letter .item p {{ margin: 2px 0 2px 2em; }}
.letter .label {{ font-weight: bold; }}
.letter .sign {{ text-align: right; margin-top: 40px; }}
.empty {{ max-width: 760px; margin: 40px auto; text-align: center; }}
@media screen {{ .letter {{ border-bottom: 1px dashed #999; }} }}
@media print {{
  body {{ font-size: 10.5pt; line-height: 1.55; }}
  .letter {{ max-width: none; padding: 0; }}
  .letter h1 {{ font-size: 17pt; }}
  .letter .sign {{ margin-top: 20px; }}
}}
"""


def district_names() -> dict[str, str]:
    """GB/T 2260 code → name (codes.yaml divisions)."""
    return codes.labels("divisions")


def zh_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 23 → 二十三 (item numbers of a letter)."""
    if not 0 < n < 100:
        raise ValueError(f"item number {n} outside 1–99")
    tens, units = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else _DIGITS[tens] + "十")
    return head + (_DIGITS[units] if units else "")


def _fill(text: str, **values: str) -> str:
    return escape(text.format_map(values))


def letter_html(entity: dict, items: list[dict], letter: dict, sender: str, contact: str, as_of: str) -> str:
    """One letter: title, number, addressee, intro, the numbered items, closing, contact, sender.

    Every text a reader sees, except the addressee's own name, passes the guard (checked as plain text before
    it is escaped into the page: the same words a browser shows)."""
    labels = letter["labels"]
    texts: list[str] = []  # what the guard checks

    def text(value: str) -> str:
        texts.append(value)
        return escape(value)

    greeting = letter["greeting"].format_map({"name": "\x00"})  # the name is the addressee's, not ours
    parts = [
        f'<section class="letter" data-uscc="{escape(entity["uscc"])}">',
        f"<h1>{text(letter['title'])}</h1>",
        f'<p class="no">{text("编号：" + entity["letter_no"])}</p>',
        f'<p class="to">{text(greeting).replace(chr(0), escape(entity["name"]))}'
        f"<br>{text('统一社会信用代码：' + entity['uscc'])}</p>",
        f"<p>{text(letter['intro'].format_map({'as_of': as_of}))}</p>",
    ]
    for n, item in enumerate(items, start=1):
        parts.append('<div class="item">')
        parts.append(f"<h2>{text(zh_number(n) + '、' + item['title'])}</h2>")
        for field in ("finding", "action", "by"):
            if item[field]:
                parts.append(f'<p><span class="label">{text(labels[field] + "：")}</span>{text(item[field])}</p>')
        parts.append("</div>")
    parts += [
        f"<p>{text(letter['closing'])}</p>",
        f"<p>{text(contact)}</p>",
        f'<p class="sign">{text(sender)}<br>{text(as_of)}</p>',
        "</section>",
    ]
    check_text("\n".join(texts), f"letter {entity['letter_no']} ({entity['uscc']})")
    return "\n".join(parts)


def letters_html(rem, district: str, rows: pd.DataFrame, letter: dict, p: dict) -> str:
    """The district's letters as one page (``rows``: the district's entity rows, letters in that order)."""
    rp = p["reminders"]
    district_name = district_names().get(district, district)
    sender = rp["sender"].format(city=p["city"]["name"], district=district_name)
    title = f"{letter['title']} — {district_name} — {rem.month}"
    items = rem.items[rem.items["district"] == district]
    by_entity: dict[str, list[dict]] = {}
    for item in items[["uscc", "title", "finding", "action", "by"]].to_dict("records"):
        by_entity.setdefault(item["uscc"], []).append(item)
    where = f"{rp['out_dir']}/{rem.month}/{district}.html"
    body = [
        letter_html(entity, by_entity[entity["uscc"]], letter, sender, rp["contact"], rem.as_of)
        for entity in rows.to_dict("records")
    ]
    if not body:
        body = [f'<p class="empty">{escape(district_name)}：{escape(rem.month)} 无需发送的提示函。</p>']
    head = (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
    )
    check_html(head + ("" if len(rows) else body[0]), where)
    html = head + "\n".join(body) + "\n</body>\n</html>\n"
    check_offline(html, where)
    return html
