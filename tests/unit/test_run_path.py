"""The shape of the run path: small functions, a short lifecycle, and a job that knows no channel."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from consumer.channels import REGISTRY
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CONSUMER = ROOT / "consumer"
RUN_PATH = [
    *(CONSUMER / name for name in ("lifecycle.py", "dead.py", "pipeline.py", "conditions.py", "fanout.py")),
    *(CONSUMER / name for name in ("dispatch.py", "gate.py", "lease.py", "export.py", "notices.py", "alerts.py")),
    *sorted((CONSUMER / "channels").glob("*.py")),
]
# The orchestration: it reaches channels only through consumer.dispatch and the registry.
JOB = ("lifecycle.py", "dead.py", "pipeline.py", "conditions.py", "fanout.py")
MAX_FUNCTION_LINES = 60
MAX_LIFECYCLE_LINES = 200


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


@pytest.mark.parametrize("path", RUN_PATH, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_function_in_the_run_path_is_over_60_lines(path: Path) -> None:
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert node.end_lineno is not None
            lines = node.end_lineno - node.lineno + 1
            assert lines <= MAX_FUNCTION_LINES, f"{path.name}: {node.name} has {lines} lines"


def test_the_lifecycle_module_is_short() -> None:
    lines = len((CONSUMER / "lifecycle.py").read_text().splitlines())
    assert lines < MAX_LIFECYCLE_LINES, f"consumer/lifecycle.py has {lines} lines"


def test_one_place_per_provider() -> None:
    assert not (CONSUMER / "delivery").exists() and not (CONSUMER / "deliver.py").exists()
    for path in sorted(ROOT.glob("*/**/*.py")):
        if ".venv" in path.parts:
            continue
        for node in ast.walk(tree(path)):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("consumer.delivery"), f"{path.relative_to(ROOT)} imports it"


@pytest.mark.parametrize("name", JOB)
def test_the_job_never_looks_inside_a_channel(name: str) -> None:
    source = (CONSUMER / name).read_text()
    for node in ast.walk(tree(CONSUMER / name)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("consumer.channels."):
            assert node.module == "consumer.channels.outcome", f"{name} imports {node.module}"
    for word in ("TelegramRecipient", "telegram_chat_id", "migrate"):
        assert word not in source, f"{name} mentions {word}"


def test_every_channel_has_a_size_limit_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_MAX_BYTES", "1234")
    settings = Settings()
    assert {name: settings.max_file_bytes(name) > 0 for name in REGISTRY} == dict.fromkeys(REGISTRY, True)
    assert settings.max_file_bytes("telegram") == 1234
