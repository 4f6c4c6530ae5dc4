"""Destinations as a test writes them (an SFTP destination's request body) and the secrets tests give the
channels, to look for afterwards in answers, rows and logs."""

from __future__ import annotations

import base64
from typing import Any

import asyncssh

HOST_KEY = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
PASSWORD = "sftp-secret-password-123"
BOT_TOKEN = "xoxb-123-456-abcdefSECRET"


def sftp(**extra: Any) -> dict[str, Any]:
    return {
        "channel": "sftp",
        "host": "files.example.com",
        "username": "reports",
        "directory": "/drop",
        "host_key": HOST_KEY,
        "password": PASSWORD,
        **extra,
    }


# The e2e tests' secrets, delivered through a real consumer process.
SFTP_PASSWORD = "sftp-password-do-not-leak-7731"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"k" * 8 + b"webhook-signing-key-32b").decode()
