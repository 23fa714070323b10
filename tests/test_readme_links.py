"""Every file the README links or shows (``[text](path)``, ``![alt](path)``) exists in the repository."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _local_targets(text: str) -> list:
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    return [t.split("#")[0] for t in targets if not re.match(r"[a-z]+:", t) and not t.startswith("#")]


def test_readme_links_point_at_files():
    targets = _local_targets((REPO / "README.md").read_text())
    assert any(t.endswith(".png") for t in targets), "the README shows no figure: the parser found nothing"
    missing = [t for t in targets if not (REPO / t).exists()]
    assert not missing, f"README.md links to missing files: {missing}"
