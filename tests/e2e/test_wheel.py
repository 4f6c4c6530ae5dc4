"""What ships: the wheel, built by pip from a copy of the checkout, holds the product packages and the migrations,
nothing of the dev kit, demo or tests."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = {"shared", "producer", "consumer", "sql"}


def test_the_wheel_holds_only_the_product(tmp_path: Path) -> None:
    # Built from a copy, so the checkout gets no build/ or egg-info; the dev kit and demo are copied too, to
    # prove the package list leaves them out rather than their absence.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in (*PRODUCT, "devkit", "demo", "tests"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    out = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "-w",
            str(out),
            str(src),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == PRODUCT
    assert not [n for n in names if re.search(r"fakes|embedded|demo", n)]
    assert "sql/0001_source_tables.sql" in names
    assert "shared/py.typed" in names
