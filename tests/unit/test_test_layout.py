"""The suite's own layout: three tiers, each with a conftest.py holding its fixtures, and no test module importing
another (shared fixtures live in a conftest.py, shared helpers in tests/support/)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
TIERS = ("unit", "integration", "e2e")


def imported_modules(source: str, package: str) -> set[str]:
    """Every module a file of `package` imports, absolute (`from . import x` in tests.unit reads as tests.unit.x)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[: len(parent) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def is_test_module(name: str) -> bool:
    parts = name.split(".")
    return len(parts) >= 3 and parts[0] == "tests" and parts[1] in TIERS and parts[2].startswith("test_")


def test_the_suite_is_found() -> None:
    assert len(sorted(TESTS.rglob("test_*.py"))) > 50


@pytest.mark.parametrize("tier", TIERS)
def test_each_tier_has_its_conftest(tier: str) -> None:
    assert (TESTS / tier / "conftest.py").is_file()


def test_no_module_of_the_suite_imports_a_test_module() -> None:
    offenders = {}
    for path in sorted(TESTS.rglob("*.py")):
        package = ".".join(path.relative_to(TESTS.parent).parent.parts)
        names = imported_modules(path.read_text(), package)
        offenders[str(path.relative_to(TESTS.parent))] = sorted(name for name in names if is_test_module(name))
    assert {path: names for path, names in offenders.items() if names} == {}


def test_every_test_module_is_in_a_tier() -> None:
    stray = [p for p in TESTS.rglob("test_*.py") if p.relative_to(TESTS).parts[0] not in TIERS]
    assert stray == []


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("from tests.integration.test_api import token", True),
        ("import tests.e2e.test_processes", True),
        ("from tests.integration import test_export", True),
        ("from .test_layers import ROOT", True),
        ("from . import test_layers", True),
        ("from tests.support.api import token", False),
        ("from tests.unit.conftest import HERE", False),
        ("import testsuite.test_x", False),
    ],
)
def test_the_check_sees_each_spelling_of_an_import(source: str, found: bool) -> None:
    assert any(is_test_module(name) for name in imported_modules(source, "tests.unit")) == found
