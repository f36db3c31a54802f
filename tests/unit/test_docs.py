"""The README and docs/ never send a reader outside the repository, and every link in them leads somewhere.

Every relative link (and image) in README.md and docs/*.md must name a file or folder of this repository,
and a `#fragment` must name a heading of the Markdown file it points to (GitHub's anchors). No link may
leave the repository: no path above its root (the design notes a clone does not have), and no http(s)
address except the local cloud's own (localhost, 127.0.0.1). Code blocks and code spans are examples, not
links, and are skipped. The same rule for code: no comment or docstring points a reader at those notes.

Code paths are checked too, code spans included: every Python file under `functions/`, `infra/`, `cli/`,
`tests/`, `console/` or `layers/` that a page names must exist (a brace list, `dialects/{native,gathr}.py`,
names each file), so a module renamed or moved fails here until the page follows it. A path with a
placeholder (`<family>`, `*`) is a pattern, not a file, and is skipped.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
LOCAL_HOSTS = {"localhost", "127.0.0.1"}

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.M)
AUTOLINK = re.compile(r"<((?:https?|ftp|mailto):[^>\s]+)>")
BARE_URL = re.compile(r"(?<![(<\w])(https?://[^\s)>\]`'\"]+)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
# What once sent readers outside the repository: the shared design notes and their section numbers.
# A Python file of the repository as a page names it; <placeholders> and * wildcards end the match early.
CODE_PATH = re.compile(r"(?<![\w/.])((?:functions|infra|cli|tests|console|layers)/[\w/{},.-]*?\.py)(?![\w/])")
BRACES = re.compile(r"\{([^{}]*)\}")
OUTSIDE_NOTES = re.compile(r"\.\./" + "shared/|" + "DESIGN" + r"(?:\.md|\s+section|\s*§|\s+\d)")


def prose(text: str) -> str:
    """The Markdown without its fenced code blocks and code spans."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def links(text: str) -> list[str]:
    body = prose(text)
    found = INLINE_LINK.findall(body) + REFERENCE_LINK.findall(body) + AUTOLINK.findall(body)
    return found + [u for u in BARE_URL.findall(body) if u not in found]


def expand(path: str) -> list[str]:
    """The files a brace list names: `a/{b,c}.py` is `a/b.py` and `a/c.py`."""
    found = BRACES.search(path)
    if not found:
        return [path]
    head, tail = path[: found.start()], path[found.end() :]
    return [name for choice in found.group(1).split(",") for name in expand(head + choice.strip() + tail)]


def missing_code_paths(text: str) -> list[str]:
    """The Python files `text` names that the repository does not have."""
    named = {name for path in CODE_PATH.findall(text) for name in expand(path)}
    return sorted(name for name in named if not (ROOT / name).is_file())


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, code marks and punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    out: set[str] = set()
    for heading in HEADING.findall(FENCE.sub("", page.read_text(encoding="utf-8"))):
        base = slug(heading)
        name, n = base, 0
        while name in out:  # GitHub numbers repeated headings: name, name-1, name-2 ...
            n += 1
            name = f"{base}-{n}"
        out.add(name)
    return out


def problem(page: Path, target: str) -> str | None:
    """Why `target`, linked from `page`, does not lead to a place in this repository; None when it does."""
    parts = urlsplit(target)
    if parts.scheme:
        if parts.scheme in ("http", "https") and parts.hostname in LOCAL_HOSTS:
            return None
        return "leaves the repository"
    path, fragment = unquote(parts.path), unquote(parts.fragment)
    dest = (page.parent / path).resolve() if path else page
    if not dest.is_relative_to(ROOT):
        return "points outside the repository"
    if not dest.exists():
        return "names no file of the repository"
    if fragment and dest.suffix == ".md" and fragment not in anchors(dest):
        return f"names no heading #{fragment} in {dest.relative_to(ROOT)}"
    return None


def test_the_pages_are_there():
    names = {p.relative_to(ROOT).as_posix() for p in PAGES}
    for page in ("README.md", "architecture", "api", "data-flow", "security", "operations", "glossary"):
        assert (page if page.endswith(".md") else f"docs/{page}.md") in names
    assert "docs/README.md" in names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_link_leads_to_a_place_in_the_repository(page: Path):
    text = page.read_text(encoding="utf-8")
    found = links(text)
    bad = {t: why for t in found if (why := problem(page, t))}
    assert not bad, f"{page.relative_to(ROOT)}: {bad}"
    assert not OUTSIDE_NOTES.search(text), f"{page.relative_to(ROOT)} points at notes outside the repository"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_python_file_a_page_names_exists(page: Path):
    missing = missing_code_paths(page.read_text(encoding="utf-8"))
    assert not missing, f"{page.relative_to(ROOT)} names files the repository does not have: {missing}"


def test_every_page_of_docs_is_in_the_index():
    index = links((ROOT / "docs" / "README.md").read_text(encoding="utf-8"))
    listed = {(ROOT / "docs" / urlsplit(t).path).resolve() for t in index if not urlsplit(t).scheme}
    missing = [p.name for p in (ROOT / "docs").glob("*.md") if p.name != "README.md" and p not in listed]
    assert not missing, f"docs/README.md does not list {missing}"


def test_no_code_comment_points_at_notes_outside_the_repository():
    roots = ("functions", "infra", "tests", "cli", "layers", "console/src")
    files = [
        f
        for r in roots
        for f in (ROOT / r).rglob("*")
        if f.suffix in (".py", ".ts", ".tsx", ".json", ".md", ".js")
        and "node_modules" not in f.parts
        and "build" not in f.relative_to(ROOT).parts[:2]
        and f != Path(__file__).resolve()  # this test names what it looks for
    ]
    files += [ROOT / name for name in ("Makefile", "pyproject.toml", "cdk.json", "console/package.json")]
    hits = [
        f"{f.relative_to(ROOT)}:{n}"
        for f in files
        for n, line in enumerate(f.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if OUTSIDE_NOTES.search(line)
    ]
    assert not hits, f"point these at the page in docs/ instead: {hits}"


@pytest.mark.parametrize(
    ("target", "ok"),
    [
        ("docs/api.md", True),
        ("docs/api.md#one-core", True),
        ("docs/api.md#no-such-heading", False),
        ("../shared/DESIGN.md", False),
        ("https://example.com/", False),
        ("http://localhost:8080/docs", True),
        ("mailto:someone@example.com", False),
        ("docs/nothing-here.md", False),
    ],
)
def test_the_check_itself(target: str, ok: bool):
    assert (problem(ROOT / "README.md", target) is None) is ok


def test_code_paths_are_found_and_expanded():
    text = (
        "`functions/core/dialects/{native,gathr}.py` `functions/core/nothing.py` `functions/<family>/handler.py`"
        " `tests/unit/services/memory_*.py` `infra/constructs/functions.py` `tests/unit/test_docs.py::test_x`"
        " see functions/engine/batches.py."
    )
    assert expand("a/{b, c}/{d,e}.py") == ["a/b/d.py", "a/b/e.py", "a/c/d.py", "a/c/e.py"]
    assert CODE_PATH.findall(text) == [
        "functions/core/dialects/{native,gathr}.py",
        "functions/core/nothing.py",
        "infra/constructs/functions.py",
        "tests/unit/test_docs.py",
        "functions/engine/batches.py",
    ]
    assert missing_code_paths(text) == ["functions/core/nothing.py"]


def test_links_are_found_outside_code_only():
    text = "see [a](docs/a.md) and ![b](docs/b.png), <https://x.org>, https://y.org\n`[c](../c.md)`\n```\n[d](e)\n```\n"
    assert links(text) == ["docs/a.md", "docs/b.png", "https://x.org", "https://y.org"]
    assert slug("Quickstart (against `make run`)") == "quickstart-against-make-run"
    assert slug("Reading a customer's bucket") == "reading-a-customers-bucket"
