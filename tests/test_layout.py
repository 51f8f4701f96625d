"""The house's plan holds: the README's map names every module, and modules share only public names.

The layers themselves are checked by import-linter (``make lint``: pyproject.toml's contracts).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import llmdisc

PACKAGE = Path(llmdisc.__file__).parent
README = PACKAGE.parent / "README.md"
TOP_LEVEL = {"__init__", "cli", "__main__", "errors", "version"}


def _layout() -> list[str]:
    """The lines of the README's layout block (the code block under ``## Layout``)."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Layout") :]
    block = section[section.index("```") + 3 :]
    return block[: block.index("```")].splitlines()


def test_the_top_of_the_package_holds_only_the_public_face():
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    assert modules == TOP_LEVEL, f"move {sorted(modules - TOP_LEVEL)} into the folder of its layer"


def test_the_readme_map_names_every_folder_and_every_module():
    lines = {m.group(1): m.group(2) for m in (re.match(r"^  (\S+)\s+(.*)$", line) for line in _layout()) if m}
    missing = []
    for folder in sorted(p for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()):
        line = lines.get(f"{folder.name}/")
        if line is None:
            missing.append(f"{folder.name}/ (a line of its own)")
            continue
        named = set(re.findall(r"\w+", line))
        missing += [
            f"{folder.name}/{p.name}" for p in sorted(folder.glob("*.py")) if p.stem not in named | {"__init__"}
        ]
    top = " ".join(line for line in _layout() if line.startswith("  __init__.py"))
    missing += [f"{m}.py" for m in sorted(TOP_LEVEL) if f"{m}.py" not in top]
    assert not missing, f"README.md's Layout does not name: {', '.join(missing)}"


def test_no_module_imports_another_modules_private_name():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("llmdisc")):
                names = [a.name for a in node.names if a.name.startswith("_") and not a.name.endswith("__")]
                found += [f"{path.relative_to(PACKAGE.parent)}: {name}" for name in names]
    assert not found, "private names imported across modules (make them public, or share a module): " + "; ".join(
        found
    )
