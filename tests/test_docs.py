"""The documentation the code cites exists: every ``.md`` citation resolves inside the repository,
every cited section number exists (docs/architecture.md 6), the README links every
file in ``docs/``, and nothing points at reference material outside the repository."""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: Where docstrings and comments cite documents.
CODE_DIRS = ("layers", "functions", "infra", "bench", "tests")
CODE_SUFFIXES = frozenset({".py", ".fbs", ".md"})
#: Engine modules and their tests say "section 4.4" / "§4.4" meaning soci-format.md.
FORMAT_CITERS = (
    "layers/soci_index_builder",
    "tests/engine",
    "tests/oci",
    "tests/soci",
)

_NUMBER = r"\d+(?:\.\d+)*"
_SECTION_WORD = r"(?:sections?\s+|§\s*)"
_NUMBERS = rf"{_NUMBER}(?:\s*(?:,|and|/|-|–)\s*{_SECTION_WORD}?{_NUMBER})*"
#: ``name.md`` or ``some/path/name.md``, then optionally the sections cited in it, by number
#: (``soci-format.md 4.4``) or by heading (``docs/ecr.md "Immutable tags"``).
_CITATION = re.compile(
    rf"(?P<path>(?:[\w.-]+/)*[\w.-]+\.md)\b[`)]?"
    rf"(?:,?\s*{_SECTION_WORD}?(?P<sections>{_NUMBERS})|\s+\"(?P<heading>[A-Z][^\"\n]{{0,60}})\")?"
)
_BARE_SECTIONS = re.compile(rf"(?<![\w.]){_SECTION_WORD}(?P<sections>{_NUMBERS})")
_HEADING = re.compile(r"^#{1,6}\s+(?P<number>\d+(?:\.\d+)*)\.?\s", re.MULTILINE)
_LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")
#: The specifications of other projects, cited by their own file names (image-spec
#: ``image-layout.md``): upstream documents, not ours.
_UPSTREAM_CONTEXT = re.compile(r"(?:https?://\S*|image-spec\W*|distribution-spec\W*)$")
#: Reference material that lives next to the repository, never in it, and its document names.
_OUTSIDE = re.compile(
    "|".join(
        (
            r"\.\./shared\b",
            r"/work/shared\b",
            r"\bstack-notes\b",
            r"\becr-facts\b",
            r"\bissue point \d",
        )
    )
)


@cache
def repository_files() -> tuple[Path, ...]:
    """Tracked and new (not ignored) files; a plain walk when git is not at hand."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
        names = [n for n in out.decode().split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", "node_modules", "cdk.out", "__pycache__"}
        names = [
            str(p.relative_to(ROOT))
            for p in ROOT.rglob("*")
            if p.is_file() and not skip & set(p.relative_to(ROOT).parts)
        ]
    return tuple(ROOT / n for n in sorted(names) if (ROOT / n).is_file())


def code_files() -> list[Path]:
    return [
        p
        for p in repository_files()
        if p.relative_to(ROOT).parts[0] in CODE_DIRS and p.suffix in CODE_SUFFIXES
    ]


def doc_files() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


@cache
def section_numbers(doc: Path) -> frozenset[str]:
    return frozenset(m["number"] for m in _HEADING.finditer(_text(doc)))


@cache
def heading_titles(doc: Path) -> frozenset[str]:
    """Every heading's text without its number, lower case."""
    titles = re.findall(r"^#{1,6}\s+(?:\d+(?:\.\d+)*\.?\s+)?(.+?)\s*$", _text(doc), re.MULTILINE)
    return frozenset(t.lower() for t in titles)


def cited_numbers(spec: str) -> list[str]:
    """``"2.1-2.4"`` -> ["2.1", "2.4"]; ``"4.4, 4.5"`` -> ["4.4", "4.5"]."""
    return re.findall(_NUMBER, spec)


def resolve(citing: Path, cited: str) -> Path | None:
    """A cited ``.md``: ``./``/``../`` paths from the citing file; other paths from the citing
    file's directory or the root; bare names also in ``docs/``."""
    if cited.startswith(("./", "../")):
        bases = [citing.parent]
    else:
        bases = [citing.parent, ROOT] + ([DOCS] if "/" not in cited else [])
    for base in bases:
        candidate = (base / cited).resolve()
        if candidate.is_file() and ROOT in candidate.parents:
            return candidate
    return None


def citation_problems(text: str, citing: Path) -> list[str]:
    """Citations in ``text`` (the content of ``citing``) of missing files or sections."""
    problems = []
    for match in _CITATION.finditer(text):
        before = text[max(0, match.start() - 60) : match.start()]
        if _UPSTREAM_CONTEXT.search(before):
            continue
        where = f"{citing.relative_to(ROOT)}:{text.count(chr(10), 0, match.start()) + 1}"
        target = resolve(citing, match["path"])
        if target is None:
            problems.append(f"{where}: cites {match['path']}, which is not in the repository")
            continue
        for number in cited_numbers(match["sections"] or ""):
            if number not in section_numbers(target):
                problems.append(f"{where}: {match['path']} has no section {number}")
        if match["heading"] and match["heading"].lower() not in heading_titles(target):
            problems.append(f"{where}: {match['path']} has no heading {match['heading']!r}")
    return problems


def bare_section_problems(path: Path) -> list[str]:
    """Engine "section 4.4" citations (no file named on the line) must exist in soci-format.md."""
    problems = []
    available = section_numbers(DOCS / "soci-format.md")
    for lineno, line in enumerate(_text(path).splitlines(), 1):
        stripped = _CITATION.sub("", line)
        if ".md" in line and "soci-format.md" not in line:
            continue  # a section of another document
        for match in _BARE_SECTIONS.finditer(stripped):
            for number in cited_numbers(match["sections"]):
                if number not in available:
                    where = f"{path.relative_to(ROOT)}:{lineno}"
                    problems.append(f"{where}: soci-format.md has no section {number}")
    return problems


def test_cited_documents_and_sections_exist() -> None:
    pages = [p for p in code_files() + doc_files() if p != Path(__file__).resolve()]
    problems = [p for path in pages for p in citation_problems(_text(path), path)]
    assert not problems, "\n".join(problems)


def test_engine_section_numbers_exist_in_the_format_spec() -> None:
    citers = [p for p in code_files() if str(p.relative_to(ROOT)).startswith(FORMAT_CITERS)]
    assert len(citers) > 20
    problems = [p for path in citers for p in bare_section_problems(path)]
    assert not problems, "\n".join(problems)


def test_nothing_points_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{lineno}: {line.strip()[:80]}"
        for path in repository_files()
        if path != Path(__file__).resolve() and path.suffix not in {".ztoc", ".gz", ".tar"}
        for lineno, line in enumerate(_text(path).splitlines(), 1)
        if _OUTSIDE.search(line)
    ]
    assert not offenders, "\n".join(offenders)


def test_readme_links_every_doc() -> None:
    targets = {m["target"].split("#")[0] for m in _LINK.finditer(_text(ROOT / "README.md"))}
    missing = [f"docs/{d.name}" for d in doc_files() if f"docs/{d.name}" not in targets]
    assert not missing, f"README.md does not link {missing}"


def anchors(doc: Path) -> frozenset[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    slugs = set()
    for line in _text(doc).splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            slugs.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return frozenset(slugs)


@pytest.mark.parametrize(
    "page", [ROOT / "README.md", *doc_files()], ids=lambda p: str(p.relative_to(ROOT))
)
def test_relative_links_resolve(page: Path) -> None:
    problems = []
    for match in _LINK.finditer(_text(page)):
        target = match["target"]
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        file_part, _, fragment = target.partition("#")
        destination = (page.parent / file_part).resolve() if file_part else page
        if not destination.exists() or ROOT not in [destination, *destination.parents]:
            problems.append(f"{target}: no such file in the repository")
        elif fragment and destination.suffix == ".md" and fragment not in anchors(destination):
            problems.append(f"{target}: no heading #{fragment} in {destination.name}")
    assert not problems, "\n".join(problems)


def test_the_checker_sees_bad_citations() -> None:
    """Guard the checker itself: a missing file, a missing section and a range are caught."""
    assert cited_numbers("sections 2.1-2.4") == ["2.1", "2.4"]
    assert cited_numbers("section 3.1,\nsection 5.4") == ["3.1", "5.4"]
    text = (
        '"""See soci-format.md section 9.9, docs/nowhere.md and soci-format.md 2.3,\n'
        'soci-format.md "Conventions" and docs/ecr.md "No such heading"."""\n'
    )
    problems = citation_problems(text, ROOT / "layers" / "probe.py")
    assert len(problems) == 3, problems
    assert "no section 9.9" in problems[0] and "nowhere.md" in problems[1]
    assert "no heading 'No such heading'" in problems[2]
    upstream = "image-spec ``image-layout.md``, https://example.org/spec/x.md#codes"
    assert citation_problems(upstream, ROOT / "layers" / "probe.py") == []
    outside = ["../shared/docs/x.md", "/work/shared/vectors", "stack-notes 1.3", "issue point 4"]
    assert all(_OUTSIDE.search(text) for text in outside)


# --- the reference tables name everything the code accepts ---------------------------------------


def _table_keys(doc: Path, heading: str) -> set[str]:
    """The backquoted first-column values of the tables under ``heading`` (up to the next)."""
    text = _text(doc)
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    section = text[start : end if end != -1 else None]
    return set(re.findall(r"^\| `([^`]+)`", section, re.MULTILINE))


def _context_keys() -> set[str]:
    """Every ``-c`` key the CDK app reads: CONTEXT_KEYS and the app's own try_get_context calls."""
    settings = _text(ROOT / "infra" / "settings.py")
    mapping = settings[settings.index("CONTEXT_KEYS") :]
    keys = set(re.findall(r'^\s+"(\w+)": "\w+",$', mapping[: mapping.index("}")], re.MULTILINE))
    return keys | set(re.findall(r'try_get_context\("(\w+)"\)', _text(ROOT / "infra" / "app.py")))


def test_deploy_lists_every_context_input() -> None:
    keys = _context_keys()
    assert {"include", "tagSuffix", "stackName", "nag"} <= keys  # the parser still finds them
    missing = keys - _table_keys(DOCS / "deploy.md", "## 3. Inputs (CDK context)")
    assert not missing, f"docs/deploy.md 3 does not list context inputs {sorted(missing)}"


def test_filters_lists_every_setting_and_skip_reason() -> None:
    from soci_index_builder.errors import SkipReason
    from soci_index_builder.soci.settings import BuilderSettings

    settings = set(BuilderSettings.INDEX_KEYS + BuilderSettings.FLEET_KEYS)
    missing = settings - _table_keys(DOCS / "filters.md", "## 5. Settings")
    assert not missing, f"docs/filters.md 5 does not list settings {sorted(missing)}"
    reasons = {r.value for r in SkipReason}
    missing = reasons - _table_keys(DOCS / "filters.md", "## 7. Skips and their reasons")
    assert not missing, f"docs/filters.md 7 does not list skip reasons {sorted(missing)}"
