"""Build bootstrap.used.css: the rules of the vendored bootstrap.min.css the page can match.

The page uses a few dozen of Bootstrap's ~2,000 classes; parsing and matching the whole
232 KB sheet costs the first paint tens of milliseconds on a slow tablet. A rule is kept when
each class its selector names (outside `:not(...)`) is a word somewhere in the page's own
files (templates, static JS and CSS, the server's Python): a class added by code is kept as
long as its name is written out there. Rules without classes (`:root`, elements) are kept.
tests/test_vendor_bootstrap.py checks the file is up to date.
Usage: python static/vendor/bootstrap/build_used.py
"""

from __future__ import annotations

import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
SOURCE = HERE / "bootstrap.min.css"
OUTPUT = HERE / "bootstrap.used.css"
# Where the page's class names are written (a word anywhere there counts as used).
USERS = ("templates/*.html", "static/js/*.js", "static/css/*.css", "web/*.py", "views/*.py")
GROUPING = ("@media", "@supports", "@container", "@layer")
_CLASS = re.compile(r"\.(-?[_a-zA-Z][\w-]*)")
_NOT = re.compile(r":not\((?:[^()]|\([^()]*\))*\)")


def used_words(root: Path = ROOT) -> set[str]:
    """Every word (letters, digits, '-', '_') in the files that name the page's classes."""
    words: set[str] = set()
    for pattern in USERS:
        for path in sorted(root.glob(pattern)):
            words.update(re.findall(r"[\w-]+", path.read_text(encoding="utf-8")))
    return words


def _split_top(text: str, sep: str) -> list[str]:
    """`text` split at `sep` outside parentheses and brackets."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == sep and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


def _blocks(css: str) -> list[tuple[str, str]]:
    """Top-level (prelude, body) pairs; a statement without a block (@charset) has body NUL."""
    out: list[tuple[str, str]] = []
    index, start = 0, 0
    while index < len(css):
        char = css[index]
        if char == ";" and css[start:index].lstrip().startswith("@"):
            out.append((css[start : index + 1], "\0"))  # @charset, @import: a statement
            start = index + 1
        elif char == "{":
            depth, end = 1, index + 1
            while depth:
                depth += {"{": 1, "}": -1}.get(css[end], 0)
                end += 1
            out.append((css[start:index], css[index + 1 : end - 1]))
            index = start = end
            continue
        index += 1
    return out


def _selector_used(selector: str, words: set[str]) -> bool:
    return all(name in words for name in _CLASS.findall(_NOT.sub("", selector)))


def trim(css: str, words: set[str]) -> str:
    """The rules of `css` whose selectors the page can match (grouping rules recursed)."""
    out: list[str] = []
    for prelude, body in _blocks(css):
        head = prelude.strip()
        if body == "\0":
            out.append(head)
        elif head.startswith(GROUPING):
            inner = trim(body, words)
            if inner:
                out.append(f"{head}{{{inner}}}")
        elif head.startswith("@"):  # @keyframes, @font-face: kept whole
            out.append(f"{head}{{{body}}}")
        else:
            kept = [s for s in _split_top(head, ",") if _selector_used(s, words)]
            if kept:
                out.append(f"{','.join(kept)}{{{body}}}")
    return "".join(out)


def build() -> str:
    """The trimmed sheet, with a banner naming its source."""
    banner = "/* Bootstrap v5.3.9 (MIT): the rules the page uses, by build_used.py */\n"
    css = re.sub(r"/\*.*?\*/", "", SOURCE.read_text(encoding="utf-8"), flags=re.S)
    return trim(css, used_words()) + "\n" + banner  # after: @charset must come first


if __name__ == "__main__":
    OUTPUT.write_text(build(), encoding="utf-8")
