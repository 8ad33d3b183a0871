"""What the layer ships: runtime code only, shared objects stripped, bytecode precompiled.

Lambda mounts a layer read-only at ``/opt``, so Python cannot write ``__pycache__`` there and
every cold start would compile the engine and Powertools again; CDK zips every file with a 1980
mtime, so timestamp-checked ``.pyc`` would never match either. The layer therefore carries
``.pyc`` compiled by the function's Python in ``unchecked-hash`` mode (valid whatever the
mtime; the layer is immutable, so never stale). Both steps need host tools (an interpreter of
the function's version, a ``strip`` for the target CPU); without one the step is skipped with
one line on stderr and the layer still works, only larger or slower (docs/deploy.md).
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

#: Shipped by the pinned wheels but never imported by the functions: zstandard's cffi backend
#: (needs cffi, which the layer lacks; the C backend is used) and Powertools' HTTP/GraphQL
#: router with its 1.7 MB Swagger UI bundle. Paths are glob patterns under ``python/``.
UNUSED = (
    "bin",
    "zstandard/_cffi.*",
    "zstandard/backend_cffi.py",
    "aws_lambda_powertools/event_handler",
)
#: Target architecture -> binutils' name for its strip (Debian: binutils-<triplet>).
STRIP_TOOLS = {"arm64": "aarch64-linux-gnu-strip", "x86_64": "x86_64-linux-gnu-strip"}
_HOST_ARCHITECTURES = {"aarch64": "arm64", "arm64": "arm64", "x86_64": "x86_64", "amd64": "x86_64"}


def remove_unused(target: Path) -> None:
    """Delete the :data:`UNUSED` paths of a pip ``--target`` tree."""
    for pattern in UNUSED:
        for path in target.glob(pattern):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()


def strip_tool(architecture: str) -> str | None:
    """A strip that understands the target's ELF: the cross binutils, or the host's own."""
    tool = shutil.which(STRIP_TOOLS[architecture])
    if tool is None and _HOST_ARCHITECTURES.get(platform.machine().lower()) == architecture:
        tool = shutil.which("strip")
    return tool


def strip_shared_objects(target: Path, architecture: str) -> None:
    """Remove debug sections from every ``.so`` (the zstandard wheel is mostly debug info)."""
    tool = strip_tool(architecture)
    if tool is None:
        note(
            f"no {STRIP_TOOLS[architecture]}: shared objects left unstripped "
            f"(Debian: apt-get install binutils-{STRIP_TOOLS[architecture][:-6]})"
        )
        return
    objects = sorted(str(p) for p in target.rglob("*.so"))
    if objects:
        subprocess.run([tool, "--strip-debug", *objects], check=True, capture_output=True)


def find_python(version: str) -> str | None:
    """An interpreter of exactly ``version`` (``3.13``): on PATH, or installed by pyenv."""
    candidates = [shutil.which(f"python{version}")]
    for root in (os.environ.get("PYENV_ROOT"), str(Path.home() / ".pyenv")):
        if root:
            found = Path(root).glob(f"versions/{version}.*/bin/python{version}")
            candidates += sorted((str(p) for p in found), reverse=True)
    for candidate in candidates:
        if candidate and _reports_version(candidate, version):
            return candidate
    return None


def _reports_version(executable: str, version: str) -> bool:
    """True if ``executable`` runs and is ``version`` (a pyenv shim may exist but fail)."""
    probe = [executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
    try:
        run = subprocess.run(probe, capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return False
    return run.returncode == 0 and run.stdout.strip() == version


def compile_bytecode(target: Path, version: str, deployed_at: str) -> None:
    """Precompile every module with the function's Python (``unchecked-hash`` .pyc).

    File names inside the bytecode are where Lambda puts ``target`` (``/opt/python``,
    ``/var/task``): tracebacks name real paths, and the bytes do not depend on the build
    directory, so the asset hash is stable across machines.
    """
    python = find_python(version)
    if python is None:
        note(f"no python{version}: no .pyc precompiled (every cold start compiles the modules)")
        return
    command = [
        python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
        "-s", str(target), "-p", deployed_at, str(target),
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)


def note(message: str) -> None:
    """One line on stderr: ``cdk synth`` shows it, and the synth goes on."""
    print(f"soci-index-builder layer: {message}", file=sys.stderr)
