#!/usr/bin/env python3
"""Bootstrap for a fresh machine with only Python 3.11+.

    python3 dev.py demo    # run the service end to end against embedded servers and local fakes
    python3 dev.py test    # run the whole test suite
    python3 dev.py lint    # ruff and mypy --strict

Each command creates ./.venv and installs the project on first use (again when pyproject.toml changes).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"


def ensure_environment() -> None:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    stamp = VENV / ".installed"
    if not PYTHON.exists():
        print("creating .venv ...", flush=True)
        venv.create(VENV, with_pip=True)
    if not stamp.exists() or stamp.read_text() != digest:
        print("installing the project and its dev/embedded extras into .venv ...", flush=True)
        subprocess.check_call(
            [
                str(PYTHON),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-e",
                f"{ROOT}[dev,embedded]",
            ],
            cwd=ROOT,
        )
        stamp.write_text(digest)


def run(args: list[str]) -> int:
    """Run the command; Ctrl-C or SIGTERM to this process is passed on to it, and we wait until it has
    stopped everything it started (the demo's servers, the embedded PostgreSQL and Redis)."""
    child = subprocess.Popen([str(PYTHON), *args], cwd=ROOT)

    def forward(signum: int, frame: object) -> None:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM if signum == signal.SIGTERM else signal.SIGINT)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:
                continue
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main() -> int:
    command, rest = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("help", [])
    if command not in {"demo", "test", "lint"}:
        print(__doc__)
        return 0 if command in {"help", "-h", "--help"} else 2
    ensure_environment()
    os.chdir(ROOT)
    if command == "demo":
        return run(["-m", "demo", *rest])
    if command == "test":
        return run(["-m", "pytest", *rest])
    return run(["-m", "ruff", "check", "."]) or run(["-m", "mypy"])


if __name__ == "__main__":
    sys.exit(main())
