"""Functions stay small enough to read at once: none over 60 lines and none taking more
than 5 positional parameters (``self`` and ``cls`` aside), in shared/ and every service
(migrations aside)."""

from __future__ import annotations

import ast

from tests.support.codebase import Module, project_modules

MAX_LINES = 60
MAX_POSITIONAL = 5


def checked_modules() -> list[Module]:
    return [
        module for module in project_modules().values() if "/migrations/" not in module.relative
    ]


def functions(module: Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [
        node
        for node in ast.walk(module.tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


def positional(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    names = [a.arg for a in (*function.args.posonlyargs, *function.args.args)]
    return len(names) - (1 if names[:1] in (["self"], ["cls"]) else 0)


def lines(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    first = min([function.lineno, *(d.lineno for d in function.decorator_list)])
    return (function.end_lineno or function.lineno) - first + 1


def test_the_check_covers_shared_and_every_service():
    checked = {module.relative.split("/")[0] for module in checked_modules()}
    assert checked == {"shared", "services"}
    folders = {
        m.relative.split("/")[1] for m in checked_modules() if m.relative.startswith("services/")
    }
    assert {"customers", "contracts", "billing", "payments", "notifier", "reporting"} <= folders


def test_no_function_runs_over_60_lines():
    long = sorted(
        f"{module.relative}:{function.lineno} {function.name} ({lines(function)} lines)"
        for module in checked_modules()
        for function in functions(module)
        if lines(function) > MAX_LINES
    )
    assert long == []


def test_no_function_takes_more_than_5_positional_parameters():
    wide = sorted(
        f"{module.relative}:{function.lineno} {function.name} ({positional(function)})"
        for module in checked_modules()
        for function in functions(module)
        if positional(function) > MAX_POSITIONAL
    )
    assert wide == []


def test_the_rules_see_a_long_and_a_wide_function():
    source = "def wide(a, b, c, d, e, f, *, g): pass\n\ndef method(self, a, b, c, d, e): pass\n"
    long_source = "def long():\n" + "    x = 1\n" * 60
    wide, method = functions(Module("x", project_modules()["shared"].path, ast.parse(source)))
    (long,) = functions(Module("y", project_modules()["shared"].path, ast.parse(long_source)))
    assert (positional(wide), positional(method)) == (6, 5)
    assert lines(long) == 61
