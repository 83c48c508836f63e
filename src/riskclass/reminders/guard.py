"""A reminder never mentions the classification: the one list of what it must not say, and the check.

Classes are internal (不评价、不惩戒、不公开、不免抽, domain.md §1 and §8): a reminder tells an entity what to put
right in its own records, never that it is classified, in which class, or with what score. Every text that goes
into a reminder file (CSV cells, the visible text of the letters) passes :func:`check_text`, which raises
:class:`ForbiddenText` naming where and what; nothing is written then.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from riskclass import codes

# words that name the classification, a class or a score (Chinese and English, case-insensitive)
FORBIDDEN_TERMS: tuple[str, ...] = (
    "风险分类",
    "信用分类",
    "分类结果",
    "分类管理",
    "风险等级",
    "信用等级",
    "信用风险等级",
    "风险评级",
    "信用评级",
    "信用评价",
    "风险评分",
    "信用评分",
    "评分",
    "分值",
    "得分",
    "分数",
    "积分",
    "高风险",
    "低风险",
    "中风险",
    "风险较高",
    "风险较低",
    "风险一般",
    "重点监管对象",
    "抽查比例",
    "抽查频次",
    "模型",
    *(f"信用风险{level}" for level in ("低", "一般", "较高", "高")),  # the class labels (domain.md §1)
)
# a class letter used as a grade (A类, B级, C档, D等, A+级, 'class C'), a score, and English words for either
_CLASS_LETTERS = "".join(codes.CLASSES) + "E"  # E: the fifth class some provinces use
FORBIDDEN_PATTERNS: tuple[re.Pattern, ...] = (
    re.compile(rf"(?<![A-Za-z0-9])[{_CLASS_LETTERS}][+＋-]?\s*(?:类|级|档|等)"),
    re.compile(rf"(?:类|级|档|等级|分类)\s*(?:为|是|属于|：|:)?\s*[{_CLASS_LETTERS}](?![A-Za-z0-9])"),
    re.compile(r"\b(?:risk|credit)[\s_-]*(?:class|classes|classification|grade|rating|level|score)\b", re.I),
    re.compile(r"\b(?:score|scores|scoring|scorecard|grade|graded|rating)\b", re.I),
    re.compile(rf"\b(?:class|category|tier|level)\s*[{_CLASS_LETTERS}]\b", re.I),
)


class ForbiddenText(ValueError):
    """A reminder text would mention the classification, a class or a score."""


def violations(text: str) -> list[str]:
    """The forbidden terms and pattern matches found in ``text`` (empty when it may be written)."""
    found = [term for term in FORBIDDEN_TERMS if term in text]
    found += [m.group(0) for pattern in FORBIDDEN_PATTERNS for m in pattern.finditer(text)]
    return found


def check_text(text: str, where: str) -> None:
    """ForbiddenText naming ``where`` and the offending words if ``text`` mentions the classification."""
    found = violations(text)
    if found:
        shown = "、".join(dict.fromkeys(found))
        raise ForbiddenText(
            f"{where}: a reminder must not mention the classification, a class or a score; found {shown} "
            f"in {text[:160]!r} (forbidden terms: riskclass/reminders/guard.py)"
        )


class _VisibleText(HTMLParser):
    """The text a reader sees: element text without <style>/<script> content, tags or attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script"):
            self._hidden += 1

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    return "\n".join(parser.parts)


def check_html(html: str, where: str) -> None:
    """:func:`check_text` on what a reader of the page sees (markup such as ``class="..."`` is not text)."""
    check_text(visible_text(html), where)
