"""SFTP: the report's files written to a remote directory in one session, each under a temporary name, then
renamed into place.

The host goes through the outbound guard first (shared.outbound): resolved once, refused unless public
(or OUTBOUND_ALLOW_PRIVATE), and the connection goes to the checked address.

A reader of the directory sees each whole file or none of it. The server's host key is stored with the
destination and required (no trust on first use): a server presenting another key is refused.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import posixpath
from collections.abc import Sequence
from typing import Any

import orjson

from consumer.channels.base import Context
from consumer.channels.outcome import Attachment, Outcome, Report
from consumer.destinations import Destination
from shared import outbound
from shared.errors import ReportsError
from shared.message import DestinationRecipient
from shared.redact import redact
from shared.settings import Settings


@functools.cache
def _refused() -> dict[int, str]:
    """Status codes that say the directory itself refuses the file: no retry changes that."""
    from shared.ssh import asyncssh

    return {
        asyncssh.FX_PERMISSION_DENIED: "permission denied",
        asyncssh.FX_NO_SUCH_FILE: "no such directory",
        asyncssh.FX_NO_SUCH_PATH: "no such directory",
        asyncssh.FX_NOT_A_DIRECTORY: "not a directory",
        asyncssh.FX_WRITE_PROTECT: "read-only file system",
        asyncssh.FX_NO_SPACE_ON_FILESYSTEM: "no space left on the server",
        asyncssh.FX_QUOTA_EXCEEDED: "quota exceeded",
        asyncssh.FX_INVALID_FILENAME: "invalid file name",
        # SFTPv3 servers answer a full disk or a read-only mount with the generic failure.
        asyncssh.FX_FAILURE: "the server refused the write",
    }


class NoSession(ReportsError):
    """No SSH session could be opened with the server, for whatever reason."""


NO_SESSION = (
    "sftp: no SSH session with the server (the connection was refused, timed out or closed, or it is not an "
    "SSH server); check host and port"
)


def classify(exc: BaseException) -> Outcome:
    from shared.ssh import asyncssh

    if isinstance(exc, NoSession):
        return Outcome.transient(NO_SESSION)
    text = redact(str(exc))[:300]
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return Outcome.permanent(f"sftp: the server's host key does not match the stored one: {text}")
    if isinstance(exc, asyncssh.PermissionDenied):
        return Outcome.permanent(f"sftp: authentication failed: {text}")
    if isinstance(exc, asyncssh.SFTPError) and exc.code in _refused():
        return Outcome.permanent(f"sftp: {_refused()[exc.code]}: {text}", code=exc.code)
    # A dropped connection, a timeout, a refused connect: nothing is in place yet, so it is safe to retry.
    return Outcome.transient(f"sftp: {type(exc).__name__}: {text}")


def _options(destination: Destination, settings: Settings, address: str) -> dict[str, Any]:
    from shared.ssh import asyncssh

    cfg = destination.config
    secret: dict[str, str] = orjson.loads(destination.secret) if destination.secret else {}
    options: dict[str, Any] = {
        # The address the outbound guard checked, never the name again: no second lookup to rebind.
        "host": address,
        "port": int(cfg.get("port", 22)),
        "username": cfg["username"],
        "known_hosts": ([asyncssh.import_public_key(cfg["host_key"])], [], []),
        "connect_timeout": settings.sftp_timeout_seconds,
        "login_timeout": settings.sftp_timeout_seconds,
        "agent_path": None,
        "client_keys": None,
        "password": None,
        "config": None,
    }
    if secret.get("private_key"):
        options["client_keys"] = [asyncssh.import_private_key(secret["private_key"], secret.get("passphrase"))]
    if secret.get("password"):
        options["password"] = secret["password"]
    return options


async def _connect(destination: Destination, settings: Settings, addresses: list[str]) -> Any:
    """A connection to the first checked address that takes one (a name may have an IPv6 and an IPv4 one)."""
    from shared.ssh import asyncssh

    last: BaseException | None = None
    for address in addresses:
        try:
            return await asyncssh.connect(**_options(destination, settings, address))
        except (OSError, TimeoutError, asyncssh.ConnectionLost, asyncssh.ProtocolError) as exc:
            last = exc
    # The same words for a closed port, a silent one and one that is not SSH: the run history is no port scanner.
    raise NoSession() from last


async def _put(sftp: Any, directory: str, attachment: Attachment, run_id: str) -> str:
    """One file written under a temporary name and renamed into place; returns where it now is."""
    from shared.ssh import asyncssh

    final = posixpath.join(directory, attachment.filename)
    partial = posixpath.join(directory, f".{attachment.filename}.{run_id[:8]}.part")
    try:
        await sftp.put(str(attachment.path), partial)
        try:
            await sftp.posix_rename(partial, final)
        except asyncssh.SFTPOpUnsupported:
            if await sftp.exists(final):
                await sftp.remove(final)
            await sftp.rename(partial, final)
    except BaseException:
        # Leave no half file behind where we can help it; the connection may be gone already.
        with contextlib.suppress(asyncssh.Error, OSError):
            await sftp.remove(partial)
        raise
    return final


async def upload(
    destination: Destination, settings: Settings, attachments: Sequence[Attachment], run_id: str
) -> Outcome:
    """Every file into the destination's directory, one after the other in one session. Any file that fails
    fails the delivery, and the outcome lists the files already in place (a retry writes them all again)."""
    from shared.ssh import asyncssh

    directory = destination.config.get("directory") or "."
    port = int(destination.config.get("port", 22))
    try:
        addresses = await outbound.resolve(destination.config["host"], port, settings.outbound_allow_private)
    except outbound.Blocked as exc:
        return Outcome.permanent(f"sftp: {exc}; {outbound.HINT}")
    except outbound.Unresolved as exc:
        return Outcome.transient(f"sftp: {exc}")
    uploaded: list[str] = []
    try:
        async with (
            await _connect(destination, settings, addresses) as conn,
            conn.start_sftp_client() as sftp,
        ):
            for attachment in attachments:
                uploaded.append(await _put(sftp, directory, attachment, run_id))
    except (asyncssh.Error, OSError, TimeoutError, ValueError, NoSession) as exc:
        failed = classify(exc)
        return dataclasses.replace(failed, detail={**failed.detail, "uploaded": uploaded}) if uploaded else failed
    several = {"uploaded": uploaded} if len(uploaded) > 1 else {}
    return Outcome.sent(provider="sftp", path=uploaded[0], bytes=attachments[0].size, **several)


class SftpChannel:
    name = "sftp"

    async def send_files(
        self, ctx: Context, recipient: DestinationRecipient, report: Report, attachments: Sequence[Attachment]
    ) -> Outcome:
        destination = await ctx.destinations.get(recipient.destination_id)
        return await upload(destination, ctx.settings, attachments, ctx.run_id)

    async def send_text(self, ctx: Context, recipient: DestinationRecipient, report: Report, text: str) -> Outcome:
        # A directory has no reader to tell: a file too large for it is a plain permanent failure.
        return Outcome.permanent(f"sftp: {text}")


CHANNEL = SftpChannel()
