"""The console's files: shipped in the wheel, served from the list, free of HTML-parsing sinks, the vendored
library pinned with its licence beside it."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

from producer.console.routes import FILES, STATIC

ROOT = Path(__file__).resolve().parents[2]


def test_every_static_file_is_package_data() -> None:
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "producer.console"
    ]
    for path in STATIC.rglob("*"):
        if path.is_file():
            relative = path.relative_to(STATIC.parent).as_posix()
            assert any(fnmatch.fnmatch(relative, p) for p in patterns), f"{relative} would be left out of the wheel"


def test_the_page_loads_only_served_files() -> None:
    html = (STATIC / "index.html").read_text()
    referenced = re.findall(r'(?:src|href)="/console/([^"]+)"', html)
    assert sorted(referenced) == ["app.css", "app.js"]
    assert set(referenced) <= set(FILES)
    for name in FILES:
        assert (STATIC / name).is_file(), name


def test_script_never_parses_data_as_html_or_code() -> None:
    script = (STATIC / "app.js").read_text()
    for sink in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "javascript:",
    ):
        assert sink not in script, sink
    # The token is read from and written to sessionStorage only; never to localStorage, a cookie or the address.
    assert "localStorage" not in script and "document.cookie" not in script
    assert not re.search(r"location\.(href|search)\s*=", script)


def test_axe_core_is_pinned_with_its_licence() -> None:
    vendor = STATIC / "vendor" / "axe-core"
    assert (vendor / "axe.min.js").read_text()[:40].startswith("/*! axe v4.14.1")
    assert "Mozilla Public License" in (vendor / "LICENSE").read_text()
