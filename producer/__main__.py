"""`python -m producer`: the scheduler and HTTP API; `tick --once [--dry-run]`; `check`; `migrate`; `new-key`;
`rotate-credentials`."""

from __future__ import annotations

import argparse
import sys

from shared.entry import run_command


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
    sub.add_parser(
        "check", help="check the run invariants (stuck, overdue, lost jobs, dead letters); exit 1 if any fails"
    )
    sub.add_parser("prune", help="delete runs and replayed dead letters older than RETENTION_DAYS, then exit")
    sub.add_parser("new-key", help="print a new key for CREDENTIALS_KEYS")
    sub.add_parser(
        "rotate-credentials",
        help="re-encrypt stored channel credentials with the first key of CREDENTIALS_KEYS (then drop old keys)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from producer import run

    if args.command == "tick":
        return run_command("producer", lambda s: run.run_tick(s, dry_run=args.dry_run))
    if args.command == "check":
        return run_command("producer", run.run_check)
    if args.command == "new-key":
        from shared.vault import new_key

        print(new_key())
        return 0
    if args.command == "rotate-credentials":
        return run_command("producer", run.run_rotate_credentials)
    if args.command == "prune":
        return run_command("producer", run.run_prune)
    if args.command == "migrate":
        return run_command("producer", run.run_migrate)
    return run_command("producer", run.run_producer)


if __name__ == "__main__":
    sys.exit(main())
