"""What a job gets from its worker: the settings, the pool, the dispatcher and the spool folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from consumer.dispatch import Dispatcher
from shared.db import Pool
from shared.settings import Settings


@dataclass
class Deps:
    settings: Settings
    pool: Pool
    dispatcher: Dispatcher
    spool: Path
