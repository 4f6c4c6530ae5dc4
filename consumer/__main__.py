"""`python -m consumer`: the worker (default); `export`; `dead-letters list|replay`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from shared.entry import run_command


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m consumer",
        description="Scheduled reports consumer: the arq worker that exports and delivers reports (default).",
    )
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("worker", help="run the worker and its health server (the default)")
    export = sub.add_parser("export", help="write a shared link's report to a file, delivering nothing")
    export.add_argument("--shared-link", required=True, metavar="SLUG_OR_ID")
    export.add_argument("--out", required=True, type=Path, metavar="PATH")
    export.add_argument("--timezone", metavar="TZ", help="IANA zone for dates and periods (default UTC)")
    export.add_argument("--as-of", metavar="ISO8601", help="the instant relative periods are taken from")
    export.add_argument("--format", choices=("csv", "ndjson", "xlsx"), default="csv", help="file format (default csv)")
    export.add_argument(
        "--no-formula-guard",
        action="store_true",
        help="CSV: leave cells that start like a formula as stored (schedules: csv_formula_guard false)",
    )
    dead = sub.add_parser("dead-letters", help="inspect or replay dead letters")
    dead_sub = dead.add_subparsers(dest="action", required=True)
    dead_sub.add_parser("list", help="list dead letters, newest first")
    replay = dead_sub.add_parser("replay", help="re-enqueue dead letters as replay runs")
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", metavar="ID")
    which.add_argument("--all", action="store_true", help="every dead letter not yet replayed")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "export":
        from consumer.cli import export

        return run_command(
            "consumer",
            lambda s: export(
                s, args.shared_link, args.out, args.timezone, args.as_of, args.format, not args.no_formula_guard
            ),
        )
    if args.command == "dead-letters":
        from consumer.cli import dead_letters_list, dead_letters_replay

        if args.action == "list":
            return run_command("consumer", dead_letters_list)
        return run_command("consumer", lambda s: dead_letters_replay(s, args.id, args.all))
    from consumer.worker import run_consumer

    return run_command("consumer", run_consumer)


if __name__ == "__main__":
    sys.exit(main())
