"""Webhook signing against the Standard Webhooks example, and the address guard in front of every call."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from consumer.channels.outcome import Attachment
from consumer.channels.webhook import GuardedResolver, _Body, post
from devkit.fakes.webhook import WebhookReceiver, verify
from shared.outbound import Blocked
from shared.settings import Settings

# The example of the Standard Webhooks specification.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID, SPEC_TS, SPEC_BODY = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


async def test_signature_matches_the_specification_example() -> None:
    body = _Body({}, (), "x")
    body.head, body.tail = SPEC_BODY, b""
    key = base64.b64decode(SPEC_SECRET.removeprefix("whsec_"))
    assert await body.signature(key, SPEC_ID, SPEC_TS) == SPEC_SIGNATURE
    headers = {"webhook-id": SPEC_ID, "webhook-timestamp": str(SPEC_TS), "webhook-signature": SPEC_SIGNATURE}
    # Verification also checks the timestamp: the 2021 example is far outside the tolerance.
    assert not verify(SPEC_SECRET, headers, SPEC_BODY)


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "[::1]", "10.1.2.3", "169.254.169.254", "[::ffff:127.0.0.1]", "0.0.0.0"],
)
async def test_non_public_addresses_are_never_called(host: str, tmp_path: Path, settings: Settings) -> None:
    receiver = WebhookReceiver("whsec_" + base64.b64encode(b"s" * 32).decode())
    await receiver.start()
    port = receiver.url.rsplit(":", 1)[1]
    report = tmp_path / "r.csv"
    report.write_bytes(b"a\n")
    body = _Body({}, [Attachment(report, "r.csv", "text/csv", 2)], None)
    try:
        for scheme in ("https", "http"):
            outcome = await post(settings, f"{scheme}://{host}:{port}/ok", receiver.secret, "id", body)
            assert outcome.kind == "permanent", outcome
            assert "non-public" in outcome.detail["reason"] or "https" in outcome.detail["reason"]
        assert receiver.requests == 0
        # With the setting on (tests, trusted intranets), the same loopback receiver is reached.
        if host in ("127.0.0.1", "localhost"):
            allowed = settings.model_copy(update={"outbound_allow_private": True})
            outcome = await post(allowed, f"http://{host}:{port}/ok", receiver.secret, "id2", body)
            assert outcome.kind == "sent" and len(receiver.deliveries("/ok")) == 1
    finally:
        await receiver.stop()


async def test_the_resolver_refuses_names_that_resolve_to_loopback() -> None:
    resolver = GuardedResolver(allow_private=False)
    with pytest.raises(Blocked, match="non-public"):
        await resolver.resolve("localhost", 443)
    await resolver.close()
