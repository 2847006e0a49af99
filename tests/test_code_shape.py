"""The layout's promises, checked on every run: no production module over 500 lines, no
function over 60, no class over 300, no function above complexity grade C (radon cc ≤ 20).

mistsim/ and bench/ may keep longer parsers and report builders; tests are tests.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from radon.complexity import cc_visit

ROOT = Path(__file__).resolve().parent.parent
EXEMPT = {"tests", "mistsim", "bench", "static", ".venv", "var", "build"}
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60
MAX_CLASS_LINES = 300
MAX_COMPLEXITY = 20


def production_modules() -> list[Path]:
    return sorted(
        path for path in ROOT.rglob("*.py") if not EXEMPT & set(path.relative_to(ROOT).parts)
    )


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_the_production_modules_are_found():
    names = {_name(path) for path in production_modules()}
    assert {"worker.py", "app.py", "settings.py", "store/publisher.py"} <= names


@pytest.mark.parametrize("path", production_modules(), ids=_name)
def test_module_function_and_class_sizes(path: Path):
    source = path.read_text()
    assert len(source.splitlines()) <= MAX_MODULE_LINES, f"{_name(path)} is over 500 lines"
    too_long = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            lines = (node.end_lineno or node.lineno) - first + 1
            limit = MAX_CLASS_LINES if isinstance(node, ast.ClassDef) else MAX_FUNCTION_LINES
            if lines > limit:
                too_long.append(f"{node.name}: {lines} lines (limit {limit})")
    assert too_long == [], _name(path)


@pytest.mark.parametrize("path", production_modules(), ids=_name)
def test_no_function_above_complexity_grade_c(path: Path):
    complex_blocks = [
        f"{block.name}: cc {block.complexity}"
        for block in cc_visit(path.read_text())
        if block.complexity > MAX_COMPLEXITY
    ]
    assert complex_blocks == [], _name(path)
