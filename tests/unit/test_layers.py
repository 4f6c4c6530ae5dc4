"""Dependencies point one way: producer -> shared <- consumer; the dev kit, demo, bench and tests are never
imported by the product."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEV_ONLY = {"devkit", "demo", "bench", "tests"}
FORBIDDEN = {
    "shared": {"producer", "consumer"} | DEV_ONLY,
    "producer": {"consumer"} | DEV_ONLY,
    "consumer": {"producer"} | DEV_ONLY,
    "devkit": {"producer", "consumer", "demo", "bench", "tests"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_what_it_may(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    for path in files:
        bad = imported_packages(path) & FORBIDDEN[package]
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"
