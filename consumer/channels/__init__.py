"""Every delivery channel, by name. A new channel is a module here and one line below."""

from __future__ import annotations

from consumer.channels import email, sftp, slack, telegram, webhook
from consumer.channels.base import Channel

REGISTRY: dict[str, Channel] = {
    c.name: c for c in (email.CHANNEL, telegram.CHANNEL, slack.CHANNEL, sftp.CHANNEL, webhook.CHANNEL)
}
