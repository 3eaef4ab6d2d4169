"""Every third-party module the package and its tests import belongs to a distribution that
setup.cfg declares (a dependency or an extra), so a fresh virtualenv has it."""

from __future__ import annotations

import ast
import configparser
import importlib.metadata
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIRST_PARTY = {"sockio_wsgi", "flask_ext", "tests", "__future__"}
# modules of the examples folder, imported by the examples and their tests from there
LOCAL = {"browser_client"}


def declared() -> set[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    lines = config["options"]["install_requires"].splitlines()
    for value in config["options.extras_require"].values():
        lines += value.splitlines()
    names = {re.split(r"[<>=!~;\[ ]", line.strip(), maxsplit=1)[0] for line in lines}
    return {normalise(name) for name in names if name}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported(*folders: str) -> dict[str, str]:
    """Top-level module -> a file importing it."""
    found: dict[str, str] = {}
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "node_modules" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def test_every_import_is_declared() -> None:
    distributions = importlib.metadata.packages_distributions()
    wanted = declared()
    missing = []
    for module, where in sorted(imported("sockio_wsgi", "flask_ext", "tests").items()):
        if module in FIRST_PARTY or module in LOCAL or module in sys.stdlib_module_names:
            continue
        dists = {normalise(dist) for dist in distributions.get(module, [])}
        if not dists & wanted:
            missing.append(f"{module} (imported by {where}; from {sorted(dists) or '?'})")
    assert not missing, "imports setup.cfg does not declare:\n" + "\n".join(missing)
