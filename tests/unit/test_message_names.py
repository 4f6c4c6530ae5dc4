"""What an email's text calls its files, and the keys that tell a run's notices apart from its report."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

from consumer.channels import email, loops
from consumer.channels.base import notice_id
from consumer.channels.outcome import Attachment, Origin, Report

RUN = "0f7c2a52-1b6e-4f5e-9d8a-3c2b1a0f9e8d"


def report(filename: str) -> Report:
    return Report("Weekly", 3, "2026-11-23", filename, Origin(uuid4(), uuid4()))


def attachment(name: str, content_type: str = "application/zip") -> Attachment:
    return Attachment(Path(name), name, content_type, 10)


def test_the_reports_own_file_zipped_for_size_keeps_the_reports_name() -> None:
    assert email.attached(report("w.csv"), [attachment("w.zip")]) == ["w.csv"]


def test_another_formats_zip_is_named_as_attached() -> None:
    # The XLSX was left out; what went is the CSV's zip, and the text must not name the XLSX.
    assert email.attached(report("w.xlsx"), [attachment("w.csv.zip")]) == ["w.csv.zip"]
    both = [attachment("w.xlsx", "application/octet-stream"), attachment("w.csv.zip")]
    assert email.attached(report("w.xlsx"), both) == ["w.xlsx", "w.csv.zip"]


def test_no_file_names_the_report() -> None:
    assert email.attached(report("w.csv"), []) == ["w.csv"]


def test_each_notice_has_its_own_id_and_keeps_it() -> None:
    first, second = "w.xlsx.zip is too large", "w.csv.zip is too large"
    assert notice_id(first) == notice_id(first) != notice_id(second)
    assert notice_id(first).startswith("notice-")


def test_loops_keys_stay_within_100_characters_and_apart() -> None:
    address = "someone.with.a.long.name@" + "sub." * 20 + "example.com"
    keys = {
        loops.idempotency_key(RUN, address),
        loops.idempotency_key(f"{RUN}:{notice_id('a')}", address),
        loops.idempotency_key(f"{RUN}:{notice_id('b')}", address),
        loops.idempotency_key(f"failure:{RUN}", address),
    }
    assert len(keys) == 4 and all(len(k) <= 100 for k in keys), sorted(keys)
    assert loops.idempotency_key(RUN, "a@example.com") == f"{RUN}:a@example.com"
