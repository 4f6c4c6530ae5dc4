"""`python -m shared.probe`: the container's health check, for whichever process the container runs.

It reads the container's command (PID 1), so one image needs no per-role variable: `python -m producer` is
probed on PRODUCER_PORT, `python -m consumer` on CONSUMER_PORT (their defaults otherwise), and the answer must
name that process, so another server on the port does not pass for it. Exit 0 healthy, 1 not.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path

import orjson

DEFAULT_PORTS = {"producer": 8080, "consumer": 8081}


def role(cmdline: bytes) -> str | None:
    args = [a.decode(errors="replace") for a in cmdline.split(b"\0") if a]
    for i, arg in enumerate(args[:-1]):
        if arg == "-m" and args[i + 1] in DEFAULT_PORTS:
            return args[i + 1]
    names = [Path(a).name for a in args]
    for name in names:
        for known in DEFAULT_PORTS:
            if name == f"scheduled-reports-{known}":
                return known
    return None


def probe(service: str, environ: os._Environ[str] | dict[str, str] = os.environ, timeout: float = 2) -> str | None:
    """None when the service answers /healthz as itself, else what is wrong."""
    port = environ.get(f"{service.upper()}_PORT") or str(DEFAULT_PORTS[service])
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            body = orjson.loads(answer.read())
    except (OSError, ValueError) as exc:
        return f"{url}: {type(exc).__name__}: {exc}"
    if not isinstance(body, dict) or body.get("service") != service:
        return f"{url} answers, but not as the {service}"
    return None


def main() -> int:
    explicit = sys.argv[1] if len(sys.argv) > 1 else None
    try:
        found = explicit or role(Path("/proc/1/cmdline").read_bytes())
    except OSError:
        found = None
    if found not in DEFAULT_PORTS:
        print("probe: cannot tell the process; pass producer or consumer", file=sys.stderr)
        return 1
    problem = probe(found)
    if problem:
        print(f"probe: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
