"""flask_ext uses only sockio_wsgi's public API, and one module knows Flask's internals.

DESIGN.md section 2: when Flask changes, flask_ext/flask_internals.py is the file to touch
(and the rest uses Flask's public API); when sockio_wsgi's internals change, flask_ext does
not notice.
"""

from __future__ import annotations

import ast
from pathlib import Path

import sockio_wsgi

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "flask_ext"

# the sockio_wsgi modules flask_ext may import besides the package itself: the sans-IO
# codec (the test client encodes with the server's own parser)
SOCKIO_ALLOWED = ("sockio_wsgi.protocol",)
FLASK_INTERNALS_MODULE = "flask_ext/flask_internals.py"
# Flask's modules that hold its internals (the rest of Flask and werkzeug is public API)
FLASK_PRIVATE_MODULES = ("flask.ctx", "flask.globals")
# the one private import outside that module: werkzeug's reloader, behind socketio.run
PRIVATE_ALLOWED = ("werkzeug._reloader.run_with_reloader",)


def imports(path: Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return found


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_only_public_sockio_wsgi_api() -> None:
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for line, name in imports(path):
            if not within(name, "sockio_wsgi") or name == "sockio_wsgi":
                continue
            top_level_name = name.count(".") == 1 and name.split(".")[1] in sockio_wsgi.__all__
            if top_level_name or any(within(name, allowed) for allowed in SOCKIO_ALLOWED):
                continue
            bad.append(f"{path.relative_to(ROOT)}:{line}: {name}")
    assert not bad, "flask_ext imports sockio_wsgi internals:\n" + "\n".join(bad)


def private(name: str) -> bool:
    """A name of Flask's or werkzeug's internals."""
    if not (within(name, "flask") or within(name, "werkzeug")):
        return False
    return any(part.startswith("_") for part in name.split(".")) or any(
        within(name, module) for module in FLASK_PRIVATE_MODULES
    )


def test_flask_internals_in_one_module() -> None:
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel == FLASK_INTERNALS_MODULE:
            continue
        for line, name in imports(path):
            if private(name) and name not in PRIVATE_ALLOWED:
                bad.append(f"{rel}:{line}: {name}")
    assert not bad, f"only {FLASK_INTERNALS_MODULE} may reach into Flask:\n" + "\n".join(bad)
    assert any(private(name) for _, name in imports(ROOT / FLASK_INTERNALS_MODULE)), (
        "the rule above must see the imports"
    )
