"""The design's one-way flow: Asterisk -> pbx -> agent -> centralino -> admin_web.

``centralino`` (shared domain) imports none of the faces; ``agent`` never imports
``pbx`` or ``admin_web``; ``pbx`` never imports ``admin_web``. Checked on the
source (every import statement, including function-level ones).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "centralino": {"pbx", "agent", "admin_web"},
    "agent": {"pbx", "admin_web"},
    "pbx": {"admin_web"},
}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_backward_imports(package: str) -> None:
    bad = []
    for path in sorted((REPO / package).rglob("*.py")):
        for line, module in _imports(path):
            if module.split(".")[0] in FORBIDDEN[package]:
                bad.append(f"{path.relative_to(REPO)}:{line} imports {module}")
    assert not bad, "\n".join(bad)
