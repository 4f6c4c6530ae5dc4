"""Running an entry point's command: settings once, logging, errors as exit code 2 (both processes' __main__)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from shared.errors import ReportsError
from shared.logs import configure_logging
from shared.redact import install, redact
from shared.settings import Settings, load_settings

Command = Callable[[Settings], Coroutine[Any, Any, int | None]]


def run_command(prog: str, command: Command) -> int:
    try:
        settings = load_settings()
        install(settings.redactor())
        configure_logging(settings.log_level, settings.log_format)
        return asyncio.run(command(settings)) or 0
    except ReportsError as exc:
        print(redact(f"{prog}: {exc}"), file=sys.stderr)
        return 2
