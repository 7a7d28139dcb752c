"""One way to do each thing (no build-order scaffolding, one audit helper); product apart from
test code."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PRODUCT = ("agents", "aybiza", "calls", "compliance", "learning", "memory", "tools")


def _product_modules():
    for package in PRODUCT:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).parts
            if "tests" in parts or "migrations" in parts:
                continue
            yield path, ast.parse(path.read_text())


def _imported(node: ast.AST) -> list[str]:
    names = []
    for child in ast.walk(node):
        if isinstance(child, ast.Import):
            names += [alias.name for alias in child.names]
        elif isinstance(child, ast.ImportFrom) and child.module and not child.level:
            names.append(child.module)
    return names


def test_no_first_party_import_is_guarded_by_except_import_error():
    guarded = []
    for path, tree in _product_modules():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Try):
                continue
            catches = {ast.unparse(handler.type) for handler in node.handlers if handler.type}
            if not catches & {"ImportError", "ModuleNotFoundError"}:
                continue
            guarded += [f"{path.relative_to(REPO)}: {name}"
                        for statement in node.body for name in _imported(statement)
                        if name.split(".")[0] in PRODUCT]
    assert guarded == []


def test_the_audit_log_is_written_through_one_helper():
    wrappers = [str(path.relative_to(REPO)) for path, tree in _product_modules()
                for node in ast.walk(tree)
                if isinstance(node, ast.FunctionDef) and node.name == "_audit"]
    assert wrappers == []


def test_product_code_and_the_bench_import_no_test_code():
    # The bench (calls/bench) is product-side tooling: it may use devtools, never the tests.
    imports_tests = [f"{path.relative_to(REPO)}: {name}" for path, tree in _product_modules()
                     for name in _imported(tree) if name == "tests" or name.startswith("tests.")]
    assert imports_tests == []
