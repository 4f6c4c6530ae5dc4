"""The HTTP port, bound before a process starts any work, so a busy port costs nothing but one line."""

from __future__ import annotations

import os
import socket

from shared.errors import ConfigError


def bind(host: str, port: int, *, setting: str) -> socket.socket:
    """A listening socket on host:port, or a ConfigError naming the setting (exit 2, one line).

    Bound first thing: a second process on a busy port must stop before it claims a schedule or a run.
    """
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, _, _, _, address = infos[0]
        sock = socket.create_server(address, family=family, backlog=128)
    except OSError as exc:
        # create_server appends the address to strerror; the message names it once already.
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise ConfigError(
            f"{setting}={port}: cannot listen on {host}:{port} ({reason}); stop the process using it or set "
            f"{setting} to a free port"
        ) from exc
    sock.setblocking(False)
    return sock
