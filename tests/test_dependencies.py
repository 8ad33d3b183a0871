"""Import-edge rules: dependencies point inward (docs/architecture.md 2, go-containerregistry's
depcheck). The engine knows nothing of AWS, the CLI or the Lambda; boto3 lives in one module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "layers" / "soci_index_builder"

ENGINE = ("gzip", "tar", "ztoc", "oci", "digest", "streams", "errors")
AWS_AND_FRAMEWORKS = {"boto3", "botocore", "aws_lambda_powertools", "aws_cdk", "constructs"}


def _imports(path: Path) -> set[str]:
    """Absolute top-level names and package-relative subpackages a module imports."""
    names: set[str] = set()
    base_dir = PACKAGE.parent if PACKAGE in path.parents else ROOT
    package_parts = path.relative_to(base_dir).with_suffix("").parts[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                names.add(node.module)
            elif node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
                module = ".".join([*base, node.module]) if node.module else ".".join(base)
                names.add(module)
                if not node.module:
                    names.update(f"{module}.{a.name}" for a in node.names)
    return names


def _modules(*groups: str) -> list[Path]:
    paths: list[Path] = []
    for group in groups:
        target = PACKAGE / group
        paths += sorted(target.rglob("*.py")) if target.is_dir() else [target.with_suffix(".py")]
    return [p for p in paths if p.exists()]


def _roots(names: set[str]) -> set[str]:
    return {n.split(".")[0] for n in names}


def _package_parts(names: set[str]) -> set[str]:
    return {n.split(".")[1] for n in names if n.startswith("soci_index_builder.") and "." in n}


@pytest.mark.parametrize("path", _modules(*ENGINE), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_engine_imports_only_the_stdlib_and_itself(path: Path) -> None:
    names = _imports(path)
    forbidden = _roots(names) & (AWS_AND_FRAMEWORKS | {"urllib3", "zstandard"})
    assert not forbidden, f"{path.name} imports {forbidden}"
    outward = _package_parts(names) & {"store", "soci", "cli"}
    assert not outward, f"{path.name} reaches outward into {outward}"


@pytest.mark.parametrize("path", _modules("store"), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_store_uses_boto3_only_in_the_ecr_adapter(path: Path) -> None:
    names = _imports(path)
    if path.name != "ecr.py":
        assert not _roots(names) & {"boto3", "botocore"}, f"{path.name} imports boto3"
    assert not _roots(names) & {"aws_lambda_powertools", "aws_cdk"}
    assert not _package_parts(names) & {"soci", "cli"}
    if "remote" not in path.parts:
        assert "urllib3" not in _roots(names), f"{path.name} imports urllib3 outside store/remote"


@pytest.mark.parametrize("path", _modules("soci"), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_index_building_knows_no_backend_or_adapter(path: Path) -> None:
    names = _imports(path)
    assert not _roots(names) & AWS_AND_FRAMEWORKS
    assert not _package_parts(names) & {"cli"}
    assert not {n for n in names if n.startswith("soci_index_builder.store.remote")}, path.name


@pytest.mark.parametrize("path", _modules("fleet"), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_fleet_decisions_know_no_aws_or_cli(path: Path) -> None:
    """docs/fleet.md: the decisions are shared; boto3 stays in the fleet's AWS adapter."""
    names = _imports(path)
    if path.name != "aws.py":
        assert not _roots(names) & AWS_AND_FRAMEWORKS, f"{path.name} imports AWS"
    assert not _package_parts(names) & {"cli"}
    if path.name in {"select.py", "orphans.py", "model.py", "prune.py"}:
        assert not {n for n in names if n.startswith("soci_index_builder.store.remote")}


#: What the CDK app may import from the package: pure values it shares with the function (the
#: settings rules, the media types), so synth refuses what the function would refuse.
INFRA_MAY_IMPORT = {"soci_index_builder.soci.settings", "soci_index_builder.oci.mediatypes"}


def test_functions_and_infra_stay_apart() -> None:
    for path in (ROOT / "functions").rglob("*.py"):
        roots = _roots(_imports(path))
        assert not roots & {"aws_cdk", "constructs"}, path
        assert not {n for n in _imports(path) if n.startswith("soci_index_builder.cli")}, path
    for path in (ROOT / "infra").rglob("*.py"):
        engine = {n for n in _imports(path) if n.split(".")[0] == "soci_index_builder"}
        assert engine <= INFRA_MAY_IMPORT, path


@pytest.mark.parametrize("module", sorted(INFRA_MAY_IMPORT))
def test_what_infra_imports_is_pure(module: str) -> None:
    """The modules the CDK app shares import nothing beyond the stdlib and pure engine values."""
    path = PACKAGE.parent.joinpath(*module.split(".")).with_suffix(".py")
    names = _imports(path)
    assert not _roots(names) & (AWS_AND_FRAMEWORKS | {"urllib3", "zstandard", "flatbuffers"})
    assert not _package_parts(names) & {"store", "cli"}, names


def test_rules_see_relative_imports() -> None:
    """Guard the checker itself: the builder's relative imports resolve to package modules."""
    names = _imports(PACKAGE / "ztoc" / "builder.py")
    assert "soci_index_builder.gzip.checkpoints" in names
    assert "soci_index_builder.digest" in names


def _package_graph() -> dict[str, set[str]]:
    """Subpackage (or top-level module) -> the others it imports, at any depth or laziness."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        edges = graph.setdefault(own, set())
        edges |= {part for part in _package_parts(_imports(path)) if part != own}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle between packages, as a path that returns to its start, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt] if nxt in path else [*path, nxt]
            if nxt not in state and (found := visit(nxt, [*path, nxt])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_packages_form_no_import_cycle() -> None:
    """Layers, not a web: gzip and tar below ztoc, ztoc below soci (architecture.md)."""
    cycle = _cycle(_package_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_the_cycle_check_sees_a_cycle() -> None:
    assert _cycle({"gzip": {"ztoc"}, "ztoc": {"gzip", "digest"}, "digest": set()}) == [
        "gzip",
        "ztoc",
        "gzip",
    ]
    assert _cycle({"gzip": {"digest"}, "ztoc": {"gzip"}}) is None
