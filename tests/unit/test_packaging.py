"""What ships: the wheel holds the product packages and the migrations, nothing of the dev kit, demo or tests;
the locks pin every dependency by hash."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = {"shared", "producer", "consumer", "sql"}
LOCKS = ("build.txt", "runtime.txt", "dev.txt")


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


def test_every_locked_requirement_is_pinned_with_hashes() -> None:
    for lock in LOCKS:
        text = (ROOT / "requirements" / lock).read_text()
        entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2].strip())
        assert entries, lock
        for entry in entries:
            if entry.startswith("#"):
                continue
            head = entry.splitlines()[0]
            assert re.match(r"^[A-Za-z0-9._-]+(\[[^]]+\])?==[^ ;\\]+", head), f"{lock}: {head} is not pinned"
            assert "--hash=sha256:" in entry, f"{lock}: {head} has no hash"


def test_the_runtime_lock_agrees_with_the_dev_lock() -> None:
    def pins(lock: str) -> dict[str, str]:
        found = re.findall(r"^([A-Za-z0-9._-]+)==([^ ;\\\n]+)", (ROOT / "requirements" / lock).read_text(), re.M)
        return {name.lower(): version for name, version in found}

    runtime, dev = pins("runtime.txt"), pins("dev.txt")
    assert runtime
    assert {name: dev.get(name) for name in runtime} == runtime
