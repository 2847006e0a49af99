"""static/vendor/bootstrap/build_used.py: the page loads only the Bootstrap rules it can use."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def builder() -> ModuleType:
    path = ROOT / "static/vendor/bootstrap/build_used.py"
    spec = importlib.util.spec_from_file_location("build_used", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_trimmed_sheet_is_up_to_date_with_the_pages_classes() -> None:
    """A class newly written in a template, module or style sheet needs the sheet rebuilt."""
    build = builder()
    shipped = (ROOT / "static/vendor/bootstrap/bootstrap.used.css").read_text(encoding="utf-8")
    assert shipped == build.build(), "run: python static/vendor/bootstrap/build_used.py"
    assert len(shipped) < len(build.SOURCE.read_text(encoding="utf-8")) / 4


def test_rules_are_kept_by_the_classes_they_name() -> None:
    build = builder()
    css = (
        '@charset "UTF-8";:root{--bs-x:1}.table>:not(caption)>*>*{padding:1px}'
        ".carousel,.btn:not(.carousel){color:red}.carousel-item{color:blue}"
        "@media (min-width:576px){.carousel{x:1}.btn{y:2}}@keyframes spin{to{rotate:1turn}}"
    )
    trimmed = build.trim(css, {"table", "btn"})
    assert trimmed == (
        '@charset "UTF-8";:root{--bs-x:1}.table>:not(caption)>*>*{padding:1px}'
        ".btn:not(.carousel){color:red}"
        "@media (min-width:576px){.btn{y:2}}@keyframes spin{to{rotate:1turn}}"
    )
