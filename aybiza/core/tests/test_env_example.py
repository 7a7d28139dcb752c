"""Every environment variable the settings read is documented in `.env.example`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from django.conf import settings

SETTINGS_DIR = Path(settings.BASE_DIR) / "aybiza" / "settings"
ENV_EXAMPLE = Path(settings.BASE_DIR) / ".env.example"
# "NAME=value" or "#NAME=value" (commented out, showing the default).
DOCUMENTED = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)


# Methods of the reader that parse a value they are given instead of reading a variable.
PARSERS = {"db_url_config", "cache_url_config", "email_url_config", "search_url_config",
           "read_env", "parse_value"}


def _is_env_call(node: ast.AST) -> bool:
    """`env(...)` or `env.<cast>(...)`: the one reader of aybiza/settings/env.py."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    return (isinstance(func, ast.Name) and func.id == "env") or (
        isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
        and func.value.id == "env" and func.attr not in PARSERS)


def variables_read(source: str) -> set[str]:
    """Names passed to env readers, including `for name in ("A", "B"): env(name)` loops."""
    tree = ast.parse(source)
    names: set[str] = set()
    # Names bound to literal string tuples, so `env(_name)` in a loop over one is resolved.
    literal_lists: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Tuple | ast.List):
            values = [e.value for e in node.value.elts if isinstance(e, ast.Constant)]
            for target in node.targets:
                if isinstance(target, ast.Name):
                    literal_lists[target.id] = values
    loop_values: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.For) and isinstance(node.target, ast.Name):
            iterable = node.iter
            if isinstance(iterable, ast.Tuple | ast.List):
                loop_values[node.target.id] = [
                    e.value for e in iterable.elts if isinstance(e, ast.Constant)]
            elif isinstance(iterable, ast.Name) and iterable.id in literal_lists:
                loop_values[node.target.id] = literal_lists[iterable.id]
    for node in ast.walk(tree):
        if not _is_env_call(node) or not node.args:
            continue
        first = node.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            names.add(first.value)
        elif isinstance(first, ast.Name) and first.id in loop_values:
            names.update(loop_values[first.id])
        else:
            raise AssertionError(f"env() called with a name this test cannot read: "
                                 f"{ast.unparse(node)}")
    return names


def test_the_parser_finds_every_form_of_env_read():
    # given each way the settings read a variable
    source = (
        'A = env("PLAIN", default="x")\n'
        'B = env.bool("FLAG", default=False)\n'
        'C = env.int("COUNT", default=1)\n'
        'D = env.list("ITEMS", default=[])\n'
        'E = env.db("DB_URL", default="sqlite://")\n'
        'F = env.path("SOME_DIR", default="/tmp")\n'
        'G = env("OUTER", default=env("INNER", default=""))\n'
        'H = env.db_url_config(G)\n'
        'REQUIRED = ("LOOPED_A", "LOOPED_B")\n'
        'for _name in REQUIRED:\n    env(_name, default="")\n'
        'for _other in ("LITERAL_LOOP",):\n    env(_other)\n'
    )
    # then all are found
    assert variables_read(source) == {"PLAIN", "FLAG", "COUNT", "ITEMS", "DB_URL", "SOME_DIR",
                                      "OUTER", "INNER", "LOOPED_A", "LOOPED_B", "LITERAL_LOOP"}


def test_every_variable_the_settings_read_is_in_env_example():
    # given what the settings modules read
    read = set()
    for module in sorted(SETTINGS_DIR.glob("*.py")):
        read |= variables_read(module.read_text())
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "TWILIO_AUTH_TOKEN"} <= read
    # when .env.example is read
    documented = set(DOCUMENTED.findall(ENV_EXAMPLE.read_text()))
    # then nothing is missing
    missing = sorted(read - documented)
    assert not missing, f"add these to .env.example with a default and a comment: {missing}"


def test_each_documented_variable_has_a_comment_above_it():
    lines = ENV_EXAMPLE.read_text().splitlines()
    for number, line in enumerate(lines):
        match = DOCUMENTED.match(line)
        if match and number > 0:
            above = lines[number - 1]
            assert above.startswith("# ") or DOCUMENTED.match(above), (
                f".env.example line {number + 1}: {match.group(1)} needs a comment")


def test_the_readme_configuration_table_lists_every_variable():
    readme = (Path(settings.BASE_DIR) / "README.md").read_text()
    table = readme[readme.index("<!-- config-table -->"):readme.index("<!-- /config-table -->")]

    missing = set(DOCUMENTED.findall(ENV_EXAMPLE.read_text())) - set(
        re.findall(r"`([A-Z][A-Z0-9_]+)`", table))

    assert not missing, f"add these to README's configuration table: {sorted(missing)}"
