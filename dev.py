#!/usr/bin/env python3
"""Bootstrap for a fresh machine with only Python 3.11+.

    python3 dev.py demo    # run the service end to end against embedded servers and local fakes
    python3 dev.py test    # run the whole test suite
    python3 dev.py lint    # ruff and mypy --strict
    python3 dev.py lock    # regenerate requirements/*.txt (hash-pinned) from pyproject.toml's ranges
    python3 dev.py upgrade-check   # the suite against the newest releases pyproject.toml allows, in a throwaway env

Each command creates ./.venv and installs exactly requirements/dev.txt into it (hash-checked) on first use, again
whenever the lock or pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"


LOCKS = ROOT / "requirements"
DEV_LOCK = LOCKS / "dev.txt"
# The one command that rewrites the lock files: (output, inputs, extras). Hashes cover every platform's files.
LOCK_TARGETS = (
    ("build.txt", ("requirements/build.in",), ()),
    ("runtime.txt", ("pyproject.toml",), ()),
    ("dev.txt", ("pyproject.toml", "requirements/build.in"), ("dev", "embedded")),
)


def _pip(python: Path, *args: str) -> None:
    subprocess.check_call([str(python), "-m", "pip", *args, "--quiet", "--disable-pip-version-check"], cwd=ROOT)


def ensure_environment() -> None:
    """.venv holds exactly the locked set (hash-checked), then the project itself, editable and without deps."""
    digest = hashlib.sha256(DEV_LOCK.read_bytes() + (ROOT / "pyproject.toml").read_bytes()).hexdigest()
    stamp = VENV / ".installed"
    if PYTHON.exists() and stamp.exists() and stamp.read_text() != digest:
        # A changed lock starts from an empty environment, so nothing outside the lock lingers.
        print("the lock changed: recreating .venv ...", flush=True)
        shutil.rmtree(VENV)
    if not PYTHON.exists():
        print("creating .venv ...", flush=True)
        venv.create(VENV, with_pip=True)
    if not stamp.exists() or stamp.read_text() != digest:
        print("installing the locked dependencies (requirements/dev.txt) and the project into .venv ...", flush=True)
        _pip(PYTHON, "install", "--require-hashes", "-r", str(DEV_LOCK))
        _pip(PYTHON, "install", "--no-deps", "--no-build-isolation", "-e", str(ROOT))
        stamp.write_text(digest)


def lock() -> int:
    """Regenerate requirements/*.txt from pyproject.toml's ranges: the newest releases they allow, today."""
    for output, inputs, extras in LOCK_TARGETS:
        command = [str(VENV / "bin" / "uv"), "pip", "compile", *inputs, "--generate-hashes", "--universal"]
        command += ["--python-version", "3.11", "--quiet", "--upgrade", "-o", f"requirements/{output}"]
        for extra in extras:
            command += ["--extra", extra]
        subprocess.check_call(command, cwd=ROOT)
    print("requirements/*.txt regenerated; run `python3 dev.py test` before committing them")
    return 0


def upgrade_check(rest: list[str]) -> int:
    """Run the suite in a throwaway environment holding the newest releases pyproject.toml allows, so a breaking
    upstream release is seen here before it reaches the lock or a user."""
    with tempfile.TemporaryDirectory(prefix="sr-upgrade-") as where:
        env_dir = Path(where) / "venv"
        python = env_dir / "bin" / "python"
        print(f"creating a throwaway environment with the newest allowed releases in {env_dir} ...", flush=True)
        venv.create(env_dir, with_pip=True)
        _pip(python, "install", "--upgrade", "pip", "setuptools>=68", "wheel")
        _pip(python, "install", "--upgrade", "--upgrade-strategy", "eager", "-e", f"{ROOT}[dev,embedded]")
        frozen = subprocess.run(
            [str(python), "-m", "pip", "freeze", "--exclude-editable"], capture_output=True, text=True, check=True
        ).stdout
        locked = _locked_versions()
        pins = [line for line in frozen.splitlines() if "==" in line]
        newer = [line for line in pins if locked.get(_name(line)) != line.split("==")[1]]
        print("newer than the lock: " + (", ".join(newer) if newer else "nothing"), flush=True)
        return run(["-m", "pytest", *rest], python=python)


def _name(requirement: str) -> str:
    return requirement.split("==")[0].strip().lower().replace("_", "-")


def _locked_versions() -> dict[str, str]:
    versions = {}
    for line in DEV_LOCK.read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            versions[_name(line)] = line.split("==")[1].split()[0]
    return versions


def run(args: list[str], python: Path = PYTHON) -> int:
    """Run the command; Ctrl-C or SIGTERM to this process is passed on to it, and we wait until it has
    stopped everything it started (the demo's servers, the embedded PostgreSQL and Redis)."""
    child = subprocess.Popen([str(python), *args], cwd=ROOT)

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
    if command not in {"demo", "test", "lint", "lock", "upgrade-check"}:
        print(__doc__)
        return 0 if command in {"help", "-h", "--help"} else 2
    os.chdir(ROOT)
    if command == "upgrade-check":
        return upgrade_check(rest)
    ensure_environment()
    if command == "lock":
        return lock()
    if command == "demo":
        return run(["-m", "demo", *rest])
    if command == "test":
        return run(["-m", "pytest", *rest])
    return run(["-m", "ruff", "check", "."]) or run(["-m", "mypy"])


if __name__ == "__main__":
    sys.exit(main())
