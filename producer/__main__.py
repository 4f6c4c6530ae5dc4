"""`python -m producer`: the scheduler and HTTP API; `tick --once [--dry-run]`; `migrate`."""

from __future__ import annotations

import argparse
import asyncio
import sys

from shared.errors import ReportsError
from shared.logs import configure_logging
from shared.settings import load_settings


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m producer",
        description="Scheduled reports producer: runs the scheduler loop and the HTTP API (default).",
    )
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the scheduler and the HTTP API (the default)")
    tick = sub.add_parser("tick", help="run one scheduler tick and exit")
    tick.add_argument("--once", action="store_true", required=True, help="run exactly one tick")
    tick.add_argument("--dry-run", action="store_true", help="print what is due and would be enqueued")
    sub.add_parser("migrate", help="apply database migrations and exit")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings.log_level, settings.log_format)
        if args.command == "tick":
            from producer.run import run_tick

            return asyncio.run(run_tick(settings, dry_run=args.dry_run))
        if args.command == "migrate":
            from producer.run import run_migrate

            return asyncio.run(run_migrate(settings))
        from producer.run import run_producer

        asyncio.run(run_producer(settings))
        return 0
    except ReportsError as exc:
        print(f"producer: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
