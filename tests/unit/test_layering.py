"""Keep the layering of DESIGN.md section 2 true by reading every module's imports.

Each rule walks the files that exist, so it passes vacuously while a layer is still empty
and bites as soon as a module appears. Imports under ``if TYPE_CHECKING:`` count too: a
typed dependency on a higher layer is still a dependency.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "sockio_wsgi"

# I/O, concurrency and clock modules the sans-IO core must never touch. An entry also
# covers its submodules ("http.client" forbids http.client.*, but not http.HTTPStatus).
PROTOCOL_DENY = frozenset(
    {
        "gevent",
        "geventwebsocket",
        "wsproto",
        "socket",
        "socketserver",
        "ssl",
        "select",
        "selectors",
        "threading",
        "_thread",
        "multiprocessing",
        "concurrent",
        "asyncio",
        "subprocess",
        "signal",
        "time",
        "sched",
        "queue",
        "http.client",
        "http.server",
        "urllib.request",
        "redis",
        "flask",
    }
)
# Third-party packages the protocol layer may use besides the standard library: msgpack for
# its parser, orjson (optional, imported when installed) for fast JSON.
PROTOCOL_THIRD_PARTY = frozenset({"msgpack", "orjson"})

# The only files of the package that may import gevent, and what each may import from it.
GEVENT_ALLOWED: dict[str, frozenset[str] | None] = {
    "sockio_wsgi/runtime.py": None,  # anything from gevent: it is the one gevent module
    "sockio_wsgi/serve.py": frozenset({"gevent.pywsgi", "gevent.server"}),
    "sockio_wsgi/worker.py": frozenset({"gevent.pywsgi", "gevent.server"}),
}

# The only places that may import wsproto: the server's WebSocket module and the client.
WSPROTO_ALLOWED_FILES = frozenset({"sockio_wsgi/engine/wsproto_connection.py"})
WSPROTO_ALLOWED_DIRS = ("sockio_wsgi/client/",)


def module_name(path: Path) -> str:
    """Dotted name of a file under the repository root."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of_source(
    source: str, name: str, is_package: bool, filename: str = "<src>"
) -> list[tuple[int, str]]:
    """(line, absolute name) for every import; ``from a import b`` yields ``a.b``.

    ``a.b`` may be a module or an attribute; prefix rules treat both alike, so
    ``from gevent import sleep`` counts as gevent and ``from http import HTTPStatus``
    does not count as http.client.
    """
    tree = ast.parse(source, filename=filename)
    package = name if is_package else name.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".") if package else []
                if node.level - 1 > len(base_parts):
                    raise AssertionError(f"{filename}:{node.lineno}: relative import above root")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                if node.module:
                    base_parts.append(node.module)
                base = ".".join(base_parts)
            else:
                base = node.module or ""
            found.extend(
                (node.lineno, base if alias.name == "*" else f"{base}.{alias.name}")
                for alias in node.names
            )
    return found


def imports_of(path: Path) -> list[tuple[int, str]]:
    return imports_of_source(
        path.read_text(encoding="utf-8"),
        module_name(path),
        path.name == "__init__.py",
        str(path),
    )


def within(module: str, prefixes: Iterable[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def python_files(directory: Path) -> list[Path]:
    return sorted(directory.rglob("*.py")) if directory.is_dir() else []


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def report(violations: list[str], rule: str) -> None:
    if violations:
        pytest.fail(f"{rule}:\n  " + "\n  ".join(violations), pytrace=False)


def test_import_reader_resolves_relative_imports() -> None:
    """Guards the rules below against passing because the reader sees nothing."""
    source = (
        "import gevent.queue\nfrom .. import server\nfrom .base import X\nfrom msgpack import *\n"
    )
    found = imports_of_source(source, "sockio_wsgi.adapters.redis", is_package=False)
    assert found == [
        (1, "gevent.queue"),
        (2, "sockio_wsgi.server"),
        (3, "sockio_wsgi.adapters.base.X"),
        (4, "msgpack"),
    ]
    in_package = imports_of_source("from . import eio\n", "sockio_wsgi.protocol", is_package=True)
    assert in_package == [(1, "sockio_wsgi.protocol.eio")]


def test_protocol_is_sans_io() -> None:
    """protocol/ imports only pure standard-library modules, msgpack and itself."""
    violations: list[str] = []
    for path in python_files(PACKAGE / "protocol"):
        for line, module in imports_of(path):
            top = module.partition(".")[0]
            if within(module, PROTOCOL_DENY):
                violations.append(f"{rel(path)}:{line}: imports I/O module {module}")
            elif top == "sockio_wsgi":
                if not within(module, ["sockio_wsgi.protocol"]):
                    violations.append(f"{rel(path)}:{line}: imports upper layer {module}")
            elif top not in sys.stdlib_module_names and top not in PROTOCOL_THIRD_PARTY:
                violations.append(f"{rel(path)}:{line}: imports third-party {module}")
    report(violations, "sockio_wsgi/protocol must stay sans-IO")


def test_gevent_only_in_runtime() -> None:
    """Core code reaches gevent through sockio_wsgi/runtime.py only (servers aside)."""
    violations: list[str] = []
    for path in python_files(PACKAGE):
        allowed = GEVENT_ALLOWED.get(rel(path), frozenset())
        for line, module in imports_of(path):
            if not within(module, ["gevent"]):
                continue
            if allowed is None or within(module, allowed):
                continue
            violations.append(f"{rel(path)}:{line}: imports {module}")
    report(violations, "only sockio_wsgi/runtime.py may import gevent (see GEVENT_ALLOWED)")


def test_wsproto_only_in_websocket_modules() -> None:
    violations: list[str] = []
    for path in python_files(PACKAGE):
        name = rel(path)
        if name in WSPROTO_ALLOWED_FILES or name.startswith(WSPROTO_ALLOWED_DIRS):
            continue
        violations.extend(
            f"{name}:{line}: imports {module}"
            for line, module in imports_of(path)
            if within(module, ["wsproto"])
        )
    report(violations, "only engine/wsproto_connection.py and client/ may import wsproto")


def test_adapters_do_not_import_server() -> None:
    violations: list[str] = []
    for path in python_files(PACKAGE / "adapters"):
        violations.extend(
            f"{rel(path)}:{line}: imports {module}"
            for line, module in imports_of(path)
            if within(module, ["sockio_wsgi.server"])
        )
    report(violations, "sockio_wsgi/adapters must not import sockio_wsgi/server")
