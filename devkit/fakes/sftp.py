"""A real SFTP server (asyncssh's server side) over a local directory, with the faults a drop-off sees:
a read-only directory, a full disk, and a connection that drops in the middle of a write."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from shared.ssh import asyncssh


class SftpServer:
    def __init__(self, root: Path, *, username: str = "reports", password: str | None = None) -> None:
        self.root = root
        self.username = username
        self.password = password
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key = asyncssh.generate_private_key("ssh-ed25519")
        # Subdirectories (relative to root) that refuse writes, or whose disk is full.
        self.read_only: set[str] = set()
        self.full: set[str] = set()
        # How many more files the disk has room for (None: no such limit); a write beyond them fails as on a
        # full disk, so a delivery of several files can fail after the first ones arrived.
        self.room_for: int | None = None
        # Drop the connection after this many bytes of the next N writes.
        self.drop_next = 0
        self.drop_after_bytes = 1024
        # Subdirectories where every write loses its connection midway.
        self.dropping: set[str] = set()
        self.connections = 0
        # Every file opened for writing, relative to root, in order: a re-sent report shows up twice.
        self.writes: list[str] = []
        self.port = 0
        self._acceptor: asyncssh.SSHAcceptor | None = None

    @property
    def public_host_key(self) -> str:
        return self.host_key.export_public_key().decode().strip()

    @property
    def private_client_key(self) -> str:
        return self.client_key.export_private_key().decode()

    def files(self, directory: str = ".") -> dict[str, bytes]:
        folder = self.root / directory
        if not folder.is_dir():
            return {}
        return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}

    async def start(self, host: str = "127.0.0.1") -> int:
        self.root.mkdir(parents=True, exist_ok=True)
        fake = self

        class Server(asyncssh.SSHServer):
            def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
                fake.connections += 1

            def begin_auth(self, username: str) -> bool:
                return True

            def password_auth_supported(self) -> bool:
                return fake.password is not None

            def validate_password(self, username: str, password: str) -> bool:
                return username == fake.username and password == fake.password

            def public_key_auth_supported(self) -> bool:
                return True

            def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
                return username == fake.username and key.public_data == fake.client_key.public_data

        class Files(asyncssh.SFTPServer):
            def __init__(self, chan: asyncssh.SSHServerChannel[bytes]) -> None:
                super().__init__(chan, chroot=str(fake.root).encode())
                self._written: dict[int, int] = {}
                self._drop = False

            def _area(self, path: bytes) -> str:
                relative = os.path.relpath(self.map_path(path).decode(), str(fake.root))
                return os.path.dirname(relative) or "."

            def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
                if pflags & asyncssh.FXF_WRITE:
                    area = self._area(path)
                    if area in fake.read_only:
                        raise asyncssh.SFTPPermissionDenied("Read-only file system")
                    fake.writes.append(os.path.relpath(self.map_path(path).decode(), str(fake.root)))
                    if fake.drop_next > 0 or area in fake.dropping:
                        fake.drop_next = max(fake.drop_next - 1, 0)
                        self._drop = True
                handle = super().open(path, pflags, attrs)
                self._written[id(handle)] = 0
                if pflags & asyncssh.FXF_WRITE and (self._area(path) in fake.full or fake.room_for == 0):
                    self._written[id(handle)] = -1
                elif pflags & asyncssh.FXF_WRITE and fake.room_for is not None:
                    fake.room_for -= 1
                return handle

            def write(self, file_obj: object, offset: int, data: bytes) -> Any:
                state = self._written.get(id(file_obj), 0)
                if state < 0:
                    raise asyncssh.SFTPFailure("No space left on device")
                self._written[id(file_obj)] = state + len(data)
                if self._drop and state + len(data) > fake.drop_after_bytes:
                    self.channel.get_connection().abort()
                    raise asyncssh.SFTPConnectionLost("connection dropped")
                return super().write(file_obj, offset, data)

        self._acceptor = await asyncssh.listen(
            host,
            0,
            server_host_keys=[self.host_key],
            server_factory=Server,
            sftp_factory=Files,
            allow_scp=False,
        )
        self.port = self._acceptor.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._acceptor is not None:
            self._acceptor.close()
            await self._acceptor.wait_closed()
            self._acceptor = None
        await asyncio.sleep(0)
