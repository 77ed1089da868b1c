"""Top-level packages import downwards only: serve_app → train_app → llm → tools → configs.

Shared model code lives in llm/ so that neither serve_app nor train_app reaches into the other
for it; a cycle between packages would make each impossible to use or test alone.
"""

from __future__ import annotations

import ast

import pytest

from configs.settings import PROJECT_ROOT

LAYERS = ["configs", "tools", "llm", "train_app", "serve_app"]


def imported_packages(package: str) -> set[str]:
    found = set()
    for path in (PROJECT_ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return found & set(LAYERS) - {package}


@pytest.mark.parametrize("package", LAYERS)
def test_a_package_imports_only_the_layers_below_it(package):
    above = set(LAYERS[LAYERS.index(package) + 1 :])
    assert imported_packages(package) & above == set()
