"""The layout holds: the packages are layered (roof on top, floor at the bottom), the station never
imports the archive, nothing imports the roof, and no two packages import each other.

The layer order itself is import-linter's contract in pyproject.toml (``lint-imports`` also runs in
``.ci/run``); these tests read the real import graph with grimp (the library import-linter is built
on) so that a broken rule names the exact import that breaks it.
"""

from __future__ import annotations

import itertools
import tomllib
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("app", "console", "api", "integrity", "cases", "media", "retention", "review", "redaction", "archive", "roster", "auth",
            "jobs", "ingest", "hashing", "liuhen")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, include_external_packages=False)


def _imports(graph: grimp.ImportGraph, importer: str, imported: str) -> list[str]:
    """Every import from package ``importer`` into package ``imported``, as 'module:line -> module'."""
    out = []
    for mod in sorted(graph.find_children(importer) | {importer}):
        for target in graph.find_modules_directly_imported_by(mod):
            if target == imported or target.startswith(imported + "."):
                for d in graph.get_import_details(importer=mod, imported=target):
                    out.append(f"{mod}:{d['line_number']} -> {target}")
    return out


def _descendants(graph: grimp.ImportGraph, package: str) -> set[str]:
    return graph.find_descendants(package) | {package}


def test_every_top_level_package_is_in_the_layer_contract():
    contract = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert set(contract["root_packages"]) == set(PACKAGES)
    on_disk = {p.parent.name for p in REPO.glob("*/__init__.py")} - {"tests", "bench"}
    assert on_disk == set(PACKAGES), f"a package is missing from the layers: {on_disk ^ set(PACKAGES)}"


def test_no_import_cycle_between_packages(graph):
    cycles = []
    for a, b in itertools.combinations(PACKAGES, 2):
        ab, ba = _imports(graph, a, b), _imports(graph, b, a)
        if ab and ba:
            cycles.append(f"{a} <-> {b}: {ab[0]} and {ba[0]}")
    assert not cycles, "packages import each other:\n" + "\n".join(cycles)


def test_the_station_imports_nothing_of_the_archive(graph):
    for other in ("archive", "api", "app", "console", "cases", "media", "jobs", "auth", "roster"):
        assert not _imports(graph, "ingest", other), _imports(graph, "ingest", other)


def test_nothing_imports_the_roof(graph):
    for pkg in PACKAGES:
        if pkg != "app":
            assert not _imports(graph, pkg, "app"), _imports(graph, pkg, "app")


def test_the_floor_imports_nothing_of_ours(graph):
    for pkg in PACKAGES:
        if pkg != "liuhen":
            assert not _imports(graph, "liuhen", pkg), _imports(graph, "liuhen", pkg)


def test_migrations_import_no_live_code():
    """A migration does the same on every archive whatever later code does: it imports only Alembic
    and SQLAlchemy (and the standard library)."""
    ours = set(PACKAGES)
    for path in sorted((REPO / "app" / "migrations" / "versions").glob("*.py")):
        for line in path.read_text().splitlines():
            words = line.split()
            if words[:1] in (["import"], ["from"]) and len(words) > 1:
                assert words[1].split(".")[0] not in ours, f"{path.name}: {line.strip()}"


def test_the_console_uses_no_router_module(graph):
    """The console calls services (and the access checks and request dependencies it shares with
    the API), never a router's internals."""
    allowed = {"api", "api.access", "api.deps", "api.schemas", "api.errors", "api.streaming"}
    # debt, named in issue #14's note: the administration, export and evidence pages call functions these
    # router modules hold (add_user, user_out, send_bag …) — to be moved into services
    allowed |= {"api.evidence", "api.exports", "api.officers", "api.recorders", "api.stations", "api.units",
                "api.users"}
    used = {line.split(" -> ")[1] for line in _imports(graph, "console", "api")}
    assert used <= allowed, f"the console imports routers: {sorted(used - allowed)}"
