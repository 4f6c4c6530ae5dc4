"""What ships: the locks pin every dependency by hash. (The wheel holding only the product: tests/e2e/test_wheel.py,
which builds it.)"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ("build.txt", "runtime.txt", "dev.txt")


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
