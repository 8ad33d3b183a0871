"""Docker-free Lambda layer assets: pip fetches manylinux wheels for the target CPU.

CDK normally bundles Python in a Docker container. pip can instead *download* wheels built for
another platform (``--platform --only-binary=:all:``), which is exact for our dependencies (all
ship manylinux wheels) and makes ``cdk synth`` work on any machine with PyPI access.

The bundle is then slimmed (``infra/slimming.py``): unused modules removed, shared objects
stripped, ``.pyc`` precompiled for the function's Python. The asset hash is the hash of the
bundled *output* (deterministic: pinned wheels, hash-based .pyc), so an unchanged layer keeps
its hash across synths and deploys publish no new layer version. (A
CUSTOM hash would not do: CDK mixes the bundling options, including a per-process reference to
this Python object, into it.) Finished bundles are cached in ``build/layer-cache/<input hash>``
so repeated synths skip pip.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, cast

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

from .settings import Architecture
from .slimming import (
    compile_bytecode,
    find_python,
    remove_unused,
    strip_shared_objects,
    strip_tool,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
ENGINE_DIR = REPO_ROOT / "layers" / "soci_index_builder"
FUNCTIONS_DIR = REPO_ROOT / "functions"
LAYER_REQUIREMENTS = REPO_ROOT / "requirements" / "layer.txt"
CACHE_DIR = REPO_ROOT / "build" / "layer-cache"
PYTHON_VERSION = "3.13"
#: Where Lambda mounts a layer's ``python/`` and the function code (both read-only).
LAYER_PATH, TASK_PATH = "/opt/python", "/var/task"
#: Lambda's Python 3.13 runs on Amazon Linux 2023 (glibc 2.34); manylinux2014 wheels fit.
PIP_PLATFORMS: dict[str, str] = {
    "arm64": "manylinux2014_aarch64",
    "x86_64": "manylinux2014_x86_64",
}
#: BundlingOptions requires an image; local bundling always succeeds, so it is never pulled.
UNUSED_IMAGE = "local-bundling-only/never-pulled"
#: Bump when the bundling steps change in a way the inputs below do not show.
_RECIPE_VERSION = "2"
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")


@jsii.implements(cdk.ILocalBundling)
class PipLayerBundling:
    """Builds ``<out>/python`` from pinned wheels and the engine source, without Docker."""

    def __init__(self, architecture: Architecture, *, python_version: str = PYTHON_VERSION) -> None:
        self.architecture = architecture
        self.platform = PIP_PLATFORMS[architecture]
        self.python_version = python_version
        self.input_hash = layer_input_hash(architecture, python_version)

    def pip_command(self, target: Path) -> list[str]:
        """The pip invocation; --no-compile: host .pyc would be for the host's Python."""
        return [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-compile", "--only-binary=:all:", "--implementation", "cp",
            "--platform", self.platform, "--python-version", self.python_version,
            "--target", str(target), "-r", str(LAYER_REQUIREMENTS),
        ]  # fmt: skip

    def try_bundle(self, output_dir: str, *_args: Any, **_kwargs: Any) -> bool:
        """Called by CDK through jsii; returning True means Docker is never consulted."""
        cached = CACHE_DIR / self.input_hash
        if not cached.is_dir():
            self._build_into_cache(cached)
        shutil.copytree(cached, Path(output_dir), dirs_exist_ok=True)
        return True

    def _build_into_cache(self, cached: Path) -> None:
        """pip + engine copy into a scratch dir, then an atomic rename (parallel synths)."""
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="building-", dir=CACHE_DIR))
        target = scratch / "python"
        run = subprocess.run(self.pip_command(target), capture_output=True, text=True, check=False)
        if run.returncode != 0:
            shutil.rmtree(scratch, ignore_errors=True)
            raise RuntimeError(f"pip failed building the layer ({self.platform}):\n{run.stderr}")
        remove_unused(target)
        shutil.copytree(ENGINE_DIR, target / ENGINE_DIR.name, ignore=_IGNORED)
        strip_shared_objects(target, self.architecture)
        compile_bytecode(target, self.python_version, LAYER_PATH)
        scratch.chmod(0o755)  # mkdtemp makes 0700; the asset zip keeps modes
        try:
            scratch.rename(cached)
        except OSError:  # another process finished first: its result is identical
            shutil.rmtree(scratch, ignore_errors=True)


def layer_input_hash(architecture: Architecture, python_version: str = PYTHON_VERSION) -> str:
    """Hash of every bundling input: the cache key of a finished bundle."""
    digest = hashlib.sha256()
    # The host tools decide what the bundle holds: a synth after installing one rebuilds.
    tools = (strip_tool(architecture) or "-", find_python(python_version) or "-")
    for part in (_RECIPE_VERSION, PIP_PLATFORMS[architecture], python_version, *tools):
        digest.update(part.encode() + b"\0")
    digest.update(LAYER_REQUIREMENTS.read_bytes() + b"\0")
    for path in sorted(ENGINE_DIR.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            digest.update(path.relative_to(ENGINE_DIR).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def layer_code(architecture: Architecture) -> lambda_.Code:
    """Layer code for one architecture: engine + pinned dependencies under ``python/``."""
    bundling = PipLayerBundling(architecture)
    return lambda_.Code.from_asset(
        str(ENGINE_DIR),
        asset_hash_type=cdk.AssetHashType.OUTPUT,
        bundling=cdk.BundlingOptions(
            image=cdk.DockerImage.from_registry(UNUSED_IMAGE),
            local=cast("cdk.ILocalBundling", bundling),
        ),
    )


@jsii.implements(cdk.ILocalBundling)
class FunctionsBundling:
    """Stages ``functions/`` as the package ``functions``, as the tests import it.

    The Lambdas share ``functions.shared`` by relative import, which needs ``functions`` to be
    a package in the deployment, not the asset root. ``/var/task`` is read-only like the
    layer, so its bytecode is precompiled too.
    """

    def try_bundle(self, output_dir: str, *_args: Any, **_kwargs: Any) -> bool:
        """Called by CDK through jsii; returning True means Docker is never consulted."""
        target = Path(output_dir) / FUNCTIONS_DIR.name
        shutil.copytree(FUNCTIONS_DIR, target, ignore=_IGNORED, dirs_exist_ok=True)
        compile_bytecode(Path(output_dir), PYTHON_VERSION, TASK_PATH)
        return True


def function_code() -> lambda_.Code:
    """Code of every function of the app: the ``functions`` package (handlers are in it)."""
    return lambda_.Code.from_asset(
        str(FUNCTIONS_DIR),
        asset_hash_type=cdk.AssetHashType.OUTPUT,
        bundling=cdk.BundlingOptions(
            image=cdk.DockerImage.from_registry(UNUSED_IMAGE),
            local=cast("cdk.ILocalBundling", FunctionsBundling()),
        ),
    )
