"""The container health check finds its process from PID 1's command line and accepts only that process."""

from __future__ import annotations

import pytest

from shared.probe import role


@pytest.mark.parametrize(
    ("cmdline", "expected"),
    [
        (b"python\0-m\0producer\0", "producer"),
        (b"python\0-m\0consumer\0", "consumer"),
        (b"/opt/venv/bin/python\0-m\0producer\0serve\0", "producer"),
        (b"/opt/venv/bin/scheduled-reports-consumer\0", "consumer"),
        (b"python\0-m\0producer\0migrate\0", "producer"),
        (b"python\0-m\0demo\0", None),
        (b"sh\0-c\0sleep 1\0", None),
        (b"", None),
    ],
)
def test_role_from_the_container_command(cmdline: bytes, expected: str | None) -> None:
    assert role(cmdline) == expected
