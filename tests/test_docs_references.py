"""The code's references to the method description point at sections that exist, in this repository."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
METHOD = REPO / "docs" / "method.md"
SOURCES = sorted([*(REPO / "src").rglob("*.py"), *(REPO / "tests").rglob("*.py"), *(REPO / "configs").glob("*.txt")])


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces -> hyphens."""
    headings = re.findall(r"^#+ (.+)$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def test_method_references_name_existing_sections():
    anchors = _anchors(METHOD.read_text())
    missing = [f"{path.relative_to(REPO)}: #{anchor}" for path in SOURCES
               for anchor in re.findall(r"docs/method\.md#([\w\-]+)", path.read_text()) if anchor not in anchors]
    assert not missing, f"no such section in docs/method.md: {missing}"


def test_no_references_to_documents_outside_the_repository():
    outside = re.compile(r"spec §|anchors(\.md)? §|omnimotion_spec|early_experiments|cpu_feasibility")
    found = [f"{path.relative_to(REPO)}:{number}" for path in SOURCES if path != Path(__file__).resolve()
             for number, line in enumerate(path.read_text().splitlines(), 1) if outside.search(line)]
    assert not found, f"references to documents not in the repository: {found}"
