"""Every import statement of a set of source files, read with `ast` in a fresh interpreter.

Why a subprocess: CPython 3.11 keeps `ast`'s recursion-depth bookkeeping in interpreter-wide state, and in a
long-lived threaded process an `ast.parse` can fail spuriously with "SystemError: AST constructor recursion depth
mismatch" (python/cpython#106905; it failed one full CI run here on 3.11.7). A short-lived single-threaded
interpreter does not hit it."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

_READER = """
import ast, json, sys
for path in sys.stdin.read().splitlines():
    tree = ast.parse(open(path, encoding="utf-8").read(), filename=path)
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [[node.lineno, alias.name, 0, id(node) in top] for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append([node.lineno, node.module or "", node.level, id(node) in top])
    print(json.dumps([path, found]))
"""


@dataclass(frozen=True)
class ImportStatement:
    line: int
    module: str  # as written: for a relative import, without its leading dots
    level: int  # 0 for an absolute import, the number of leading dots otherwise
    module_level: bool  # at the top of the file, not inside a function or class


def imports_of(paths: list[Path]) -> dict[Path, list[ImportStatement]]:
    """path -> its import statements, every file parsed in one subprocess."""
    done = subprocess.run([sys.executable, "-c", _READER], input="\n".join(map(str, paths)), capture_output=True,
                          text=True, check=True, timeout=120)
    result: dict[Path, list[ImportStatement]] = {}
    for line in done.stdout.splitlines():
        path, found = json.loads(line)
        result[Path(path)] = [ImportStatement(*row) for row in found]
    return result
