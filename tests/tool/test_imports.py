"""Only `keras_seq2seq.nmt` imports the tool's heavy dependencies."""

import ast
from pathlib import Path

import keras_seq2seq

PACKAGE = Path(keras_seq2seq.__file__).parent
TOOL_ONLY = {"matplotlib", "sacrebleu", "sentencepiece", "yaml"}


def _imported_roots(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module.split(".")[0]


def test_tool_dependencies_are_imported_only_in_nmt():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] == "nmt":
            continue
        for root in _imported_roots(path):
            if root in TOOL_ONLY:
                offenders.append(f"{relative} imports {root}")
    assert not offenders


def test_the_check_sees_the_tool_imports():
    found = set()
    for path in (PACKAGE / "nmt").rglob("*.py"):
        found.update(_imported_roots(path))
    assert {"matplotlib", "sacrebleu", "sentencepiece"} <= found


def test_the_library_package_does_not_pull_the_tool_in():
    init = ast.parse((PACKAGE / "__init__.py").read_text())
    modules = {
        node.module
        for node in ast.walk(init)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert not any(m.startswith("keras_seq2seq.nmt") for m in modules)
    assert "keras_seq2seq.cli" not in modules
