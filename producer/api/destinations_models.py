"""Request and response models of stored destinations (Slack, SFTP, webhooks) and channel credentials.

Secrets (passwords, private keys, signing secrets, bot tokens) are write-only: accepted here, stored
encrypted, never part of any answer.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import orjson
from pydantic import AfterValidator, BaseModel, Field, RootModel, field_validator, model_validator

from producer.api.models import Strict, Text, _no_control

Host = Annotated[
    str,
    Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$|^\[[0-9A-Fa-f:.]+\]$"),
]
Secret = Annotated[str, Field(min_length=1, max_length=16_384), AfterValidator(_no_control)]


def _no_control_but_line_ends(value: str) -> str:
    # A PEM or OpenSSH key is lines of base64: its line ends (LF or CRLF) are part of it.
    _no_control(value.replace("\r\n", "\n").replace("\n", ""))
    return value


KeyText = Annotated[str, Field(min_length=1, max_length=16_384), AfterValidator(_no_control_but_line_ends)]


class Placement(Strict):
    # A schedule's own destination, or (without schedule_id) an organization-wide fallback.
    schedule_id: UUID | None = None
    organization_id: UUID | None = None
    label: Annotated[Text, Field(max_length=200)] | None = None

    @model_validator(mode="after")
    def _owner(self) -> Placement:
        if (self.schedule_id is None) == (self.organization_id is None):
            raise ValueError("give exactly one of schedule_id (the schedule's own) or organization_id (org-wide)")
        return self


class SlackIn(Placement):
    channel: Literal["slack"]
    # A channel id (C…, G… or D…), as Slack shows under the channel's details; names can change.
    slack_channel_id: Annotated[str, Field(pattern=r"^[CGD][A-Z0-9]{2,20}$", examples=["C0123456789"])]

    def target(self) -> str:
        return self.slack_channel_id

    def config(self) -> dict[str, Any]:
        return {"slack_channel_id": self.slack_channel_id}

    def stored_secret(self) -> str | None:
        return None


class SftpIn(Placement):
    channel: Literal["sftp"]
    host: Host
    port: Annotated[int, Field(ge=1, le=65535)] = 22
    username: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._@-]+$")]
    directory: Annotated[str, Field(min_length=1, max_length=1024), AfterValidator(_no_control)] = "."
    # The server's public key as in known_hosts or ssh-keyscan ("ssh-ed25519 AAAA..."): required, never
    # learned on first contact.
    host_key: Annotated[str, Field(min_length=16, max_length=16_384)]
    password: Secret | None = None
    # The key file's text as is, newlines included (OpenSSH or PEM).
    private_key: KeyText | None = None
    passphrase: Secret | None = None

    @field_validator("host_key")
    @classmethod
    def _public_key(cls, value: str) -> str:
        from shared.ssh import asyncssh

        try:
            asyncssh.import_public_key(value.strip())
        except (asyncssh.KeyImportError, ValueError) as exc:
            raise ValueError(f"is not an SSH public key ({exc}); copy the line ssh-keyscan prints") from None
        return value.strip()

    @model_validator(mode="after")
    def _credential(self) -> SftpIn:
        if (self.password is None) == (self.private_key is None):
            raise ValueError("give exactly one of password or private_key")
        if self.private_key is not None:
            from shared.ssh import asyncssh

            try:
                asyncssh.import_private_key(self.private_key, self.passphrase)
            except (asyncssh.KeyImportError, ValueError) as exc:
                raise ValueError(
                    f"private_key: cannot be read ({type(exc).__name__}); give an OpenSSH or PEM key file's text"
                ) from None
        return self

    def target(self) -> str:
        return f"{self.username}@{self.host}:{self.port}:{self.directory}"

    def config(self) -> dict[str, Any]:
        return {
            "host": self.host.strip("[]"),
            "port": self.port,
            "username": self.username,
            "directory": self.directory,
            "host_key": self.host_key,
        }

    def stored_secret(self) -> str | None:
        data = {"password": self.password} if self.password else {"private_key": self.private_key}
        if self.passphrase:
            data["passphrase"] = self.passphrase
        return orjson.dumps(data).decode()


class WebhookIn(Placement):
    channel: Literal["webhook"]
    url: Annotated[str, Field(min_length=10, max_length=2048, pattern=r"^https?://[^\s]+$")]
    # The Standard Webhooks signing secret: "whsec_" and the base64 of 24 to 64 random bytes.
    secret: Annotated[str, Field(pattern=r"^whsec_[A-Za-z0-9+/]{32,88}={0,2}$")]

    @field_validator("secret")
    @classmethod
    def _key(cls, value: str) -> str:
        try:
            key = base64.b64decode(value.removeprefix("whsec_"), validate=True)
        except binascii.Error:
            raise ValueError("the part after whsec_ must be base64") from None
        if not 24 <= len(key) <= 64:
            raise ValueError("must hold 24 to 64 bytes of key (e.g. whsec_ + base64 of 32 random bytes)")
        return value

    def target(self) -> str:
        return self.url

    def config(self) -> dict[str, Any]:
        return {"url": self.url}

    def stored_secret(self) -> str | None:
        return self.secret


AnyDestinationIn = SlackIn | SftpIn | WebhookIn
DestinationIn = Annotated[AnyDestinationIn, Field(discriminator="channel")]


class DestinationCreate(RootModel[DestinationIn]):
    """The request body of POST /v1/destinations, one shape per channel (for the OpenAPI document)."""


class DestinationOut(BaseModel):
    id: UUID
    organization_id: UUID
    schedule_id: UUID | None
    channel: str
    target: str
    label: str | None
    config: dict[str, Any]
    has_secret: bool
    created_at: datetime


class DestinationList(BaseModel):
    items: list[DestinationOut]


class SlackCredentialReplace(Strict):
    organization_id: UUID
    bot_token: Annotated[str, Field(min_length=10, max_length=512, pattern=r"^xox[bpe]-[A-Za-z0-9-]+$")]


class CredentialOut(BaseModel):
    organization_id: UUID
    channel: str
    configured: bool
    updated_at: datetime | None
