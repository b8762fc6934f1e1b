"""Size figures of the package: the largest modules and functions, and its public names.

    python scripts/house_stats.py            # a short table, then one JSON line

Names: the `__all__` of every module that has one (what the module offers others,
public or internal), the names the top-level package exports, and the names of the
public modules (those whose docstring does not say "Internal:"). Used for the closing notes
of restructuring work, to compare before and after.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "src" / "helpdesk_mail"


def _all_names(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                value = node.value
                if isinstance(value, ast.List | ast.Tuple):
                    return [e.value for e in value.elts if isinstance(e, ast.Constant)]
    return None


def main() -> int:
    modules: list[tuple[int, str]] = []
    functions: list[tuple[int, str]] = []
    all_total = 0
    with_all = 0
    top_level: list[str] = []
    public_names = 0
    internal = 0
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("").as_posix().replace("/", ".")
        source = path.read_text("utf-8")
        tree = ast.parse(source)
        modules.append((len(source.splitlines()), rel))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                end = node.end_lineno or node.lineno
                functions.append((end - node.lineno + 1, f"{rel}:{node.name}"))
        names = _all_names(tree)
        is_internal = "Internal: not part of the public API" in (ast.get_docstring(tree) or "")
        internal += is_internal
        if not is_internal:
            public_names += len(names or [])
        if names is not None:
            with_all += 1
            all_total += len(names)
            if rel == "helpdesk_mail.__init__":
                top_level = names
    modules.sort(reverse=True)
    functions.sort(reverse=True)
    print("largest modules:")
    for lines, name in modules[:8]:
        print(f"  {lines:5d}  {name}")
    print("largest functions:")
    for lines, name in functions[:8]:
        print(f"  {lines:5d}  {name}")
    figures = {
        "modules": len(modules),
        "largest_module_lines": modules[0][0],
        "largest_function_lines": functions[0][0],
        "modules_with_all": with_all,
        "all_names_total": all_total,
        "top_level_exports": len(top_level),
        "internal_modules": internal,
        "public_modules": len(modules) - internal,
        "public_module_names": public_names,
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
