"""The repository's documentation stands on its own: every link and path it names is inside the repository
and exists, and the docs cover each contract."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([ROOT / "README.md", ROOT / "bench" / "README.md", *(ROOT / "docs").glob("*.md")])
LINK = re.compile(r"\]\(([^)\s]+)\)")
# A backticked path into the repository, like `deploy/k8s/consumer.yaml` or `sql/`.
IGNORED = {line.strip().strip("/") for line in (ROOT / ".gitignore").read_text().splitlines() if line.strip()}
TOP = sorted(p.name for p in ROOT.iterdir() if not p.name.startswith(".") and p.name not in IGNORED and p.is_dir())
REPO_PATH = re.compile(r"`((?:" + "|".join(map(re.escape, TOP)) + r")/[^`\s]*)`")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_and_paths_stay_inside_the_repository(doc: Path) -> None:
    text = doc.read_text()
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+://", target) or target.startswith(("#", "mailto:")):
            continue
        resolved = (doc.parent / target.split("#", 1)[0]).resolve()
        assert resolved.is_relative_to(ROOT), f"{doc.name} links outside the repository: {target}"
        assert resolved.exists(), f"{doc.name} links to a missing file: {target}"
    for path in REPO_PATH.findall(text):
        assert (ROOT / path.rstrip("/")).exists(), f"{doc.name} names a missing path: {path}"
    # No path that climbs out of the repository, no absolute path of a machine.
    assert not re.search(r"(?<![\w.])\.\./(?!README\.md)", text), f"{doc.name} points above the repository"
    assert not re.search(r"(?<![\w:/])/(?:work|home|root|Users|tmp)/", text), f"{doc.name} names a machine path"


def test_docs_cover_every_contract() -> None:
    names = {p.name for p in (ROOT / "docs").glob("*.md")}
    assert {"README.md", "data-model.md", "scheduling.md", "export.md", "delivery.md", "api.md"} <= names
    readme = (ROOT / "README.md").read_text()
    assert "(docs/README.md)" in readme
    index = (ROOT / "docs" / "README.md").read_text()
    for name in names - {"README.md"}:
        assert f"({name})" in index, name
