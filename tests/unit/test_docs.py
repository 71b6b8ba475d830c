"""The manual and the front pages say only what is true of the code beside them.

- The mkdocs site (mkdocs.yml, docs/) builds with --strict: a broken link or anchor, or a nav entry without its
  page, fails it (shown by breaking a copy of the docs on purpose).
- The Markdown files at the root (README.md, ARCHITECTURE.md, CONTRIBUTING.md, CHANGELOG.md) are outside the site,
  so mkdocs never checks them: their relative links and anchors are checked here.
- Every `npmatrix` command and flag the README and the docs show, in code blocks and inline code, exists in the
  real command line.
- The README stays the short front page: the problem, the two commands, the default table as measured.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from markdown.extensions.toc import slugify

from npmatrix.cli import cli

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
ROOT_PAGES = ("README.md", "ARCHITECTURE.md", "CONTRIBUTING.md", "CHANGELOG.md")


def _build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "--site-dir", str(site)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def test_the_manual_builds_strict(tmp_path: Path) -> None:
    done = _build(REPO / "mkdocs.yml", tmp_path / "site")
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "site" / "troubleshooting" / "index.html").read_text()
    assert "missing-shared-library" in page and "Where NumPy came from" in page


@pytest.mark.parametrize(
    ("broken", "warning"),
    [
        ("[the gallery](galery.md)", "contains a link 'galery.md', but the target is not found"),
        ("[CPU models](engines.md#cpu-modelz)", "does not contain an anchor '#cpu-modelz'"),
    ],
)
def test_a_broken_link_fails_the_build(tmp_path: Path, broken: str, warning: str) -> None:
    shutil.copy(REPO / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(DOCS, tmp_path / "docs")
    usage = tmp_path / "docs" / "usage.md"
    usage.write_text(usage.read_text() + f"\nSee {broken}.\n")
    done = _build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0
    assert warning in done.stderr
    assert "Aborted with 1 warnings in strict mode" in done.stdout + done.stderr  # that one, and nothing else


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)  # a '# comment' in a block is no heading
    return {slugify(m[1].strip(), "-") for m in re.finditer(r"^#{1,6} (.+)$", text, flags=re.M)}


def _broken_links(page: Path) -> list[str]:
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto: ... are not ours to check offline
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path) if path else page
        if not resolved.exists():
            broken.append(f"{page.name}: {target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{page.name}: {target}: no such heading in {resolved.name}")
    return broken


@pytest.mark.parametrize("name", ROOT_PAGES)
def test_every_link_of_the_root_pages_resolves(name: str) -> None:
    assert _broken_links(REPO / name) == []


def test_the_link_check_sees_a_broken_file_and_anchor(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "usage.md").write_text("# Commands\n\n## Speed: `--jobs`\n")
    page = tmp_path / "README.md"
    page.write_text("[a](docs/usage.md#speed-jobs) [b](docs/usag.md) [c](docs/usage.md#sped) [d](https://x.org/y)\n")
    assert _broken_links(page) == [
        "README.md: docs/usag.md: no such file",
        "README.md: docs/usage.md#sped: no such heading in usage.md",
    ]


def _joined_lines(block: str) -> list[str]:
    return block.replace("\\\n", " ").splitlines()


def _invocations(markdown: str) -> list[list[str]]:
    """The words after `npmatrix` of each command shown: lines of code blocks, and inline code, that start with
    npmatrix (or `$ npmatrix`, or a path to it); a trailing `# comment` is left out."""
    candidates = []
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", markdown, flags=re.S | re.M):
        candidates += _joined_lines(block)
    prose = re.sub(r"^```.*?^```", "", markdown, flags=re.S | re.M)
    candidates += re.findall(r"`([^`\n]+)`", prose)
    found = []
    for line in candidates:
        line = re.sub(r"^\$ ", "", line.strip())
        line = re.split(r"\s+#\s", line, maxsplit=1)[0]
        first, _, rest = line.partition(" ")
        if Path(first).name != "npmatrix" or not rest:
            continue
        try:
            words = shlex.split(rest)
        except ValueError:
            words = rest.split()
        found.append(words)
    return found


def _resolve(words: list[str]) -> tuple[click.Command, list[str], list[str]]:
    command: click.Command = cli
    path = ["npmatrix"]
    while isinstance(command, click.Group) and words and not words[0].startswith(("-", "[")):
        name = words.pop(0)
        with click.Context(command) as ctx:
            sub = command.get_command(ctx, name)
        assert sub is not None, f"{' '.join(path)} has no subcommand {name!r}"
        command, path = sub, [*path, name]
    return command, path, words


def _check(args: list[str]) -> None:
    """A synopsis line may offer alternatives (`run|doctor|clean|base build`) and bracket optional words."""
    first, *rest = args
    for alternative in first.split("|"):
        command, path, words = _resolve([alternative, *rest])
        flags = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)} | {"--help", "-h"}
        for word in words:
            for flag in re.findall(r"(?:^|[\[|(])(--?[a-zA-Z][\w-]*)", word):
                assert flag in flags, f"{' '.join(path)} has no option {flag}"


def _shown() -> dict[str, list[list[str]]]:
    pages = [REPO / "README.md", *sorted(DOCS.glob("*.md"))]
    return {p.relative_to(REPO).as_posix(): _invocations(p.read_text()) for p in pages}


SHOWN = [(page, args) for page, found in _shown().items() for args in found]


def test_the_docs_show_every_command() -> None:
    # The extraction must see what matters, or the check below checks nothing.
    subcommands = {args[0] for _, args in SHOWN}
    with click.Context(cli) as ctx:
        assert set(cli.list_commands(ctx)) <= subcommands | {"run|doctor|clean|base"}, sorted(subcommands)
    assert len(SHOWN) > 100


@pytest.mark.parametrize(("page", "args"), SHOWN, ids=[f"{p}: {' '.join(a[:3])}" for p, a in SHOWN])
def test_every_command_and_flag_shown_exists(page: str, args: list[str]) -> None:
    _check(args)


def test_the_check_catches_a_missing_flag_and_command() -> None:
    shown = _invocations("```sh\nnpmatrix run --jbos 2   # --jobs misspelt\n```\nand `npmatrix histroy list DIR`.\n")
    assert shown == [["run", "--jbos", "2"], ["histroy", "list", "DIR"]]
    with pytest.raises(AssertionError, match="npmatrix run has no option --jbos"):
        _check(shown[0])
    with pytest.raises(AssertionError, match="npmatrix has no subcommand 'histroy'"):
        _check(shown[1])
    with pytest.raises(AssertionError, match="npmatrix doctor has no option --rebuild"):
        _check(["run|doctor", "[--rebuild]"])


def test_the_readme_is_the_short_front_page() -> None:
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    assert "NumPy imports fine on Colab but fails on my Raspberry Pi" in readme
    assert "make matrix   #" in readme and "make test     #" in readme
    # The default table as `npmatrix run` printed it (2026-12-04: the 32-bit cells model Raspberry Pi OS), and its
    # verdict: both 32-bit answers incomplete, piwheels and Raspbian's archive not reached from here.
    assert re.search(r"^colab +amd64 \(native\) +3\.13\.5 +2\.1\.3 +wheel manylinux_2_17 ", readme, re.M)
    assert re.search(
        r"^pi32-pip +arm/v7 \(qemu cortex-a15\) +- +2\.1\.3 \(not installed\) +pip +- +"
        r"no-wheel \(expected\) \(incomplete: piwheels not reached\)",
        readme,
        re.M,
    )
    assert "5 cells: 4 work, 1 fail; all as expected; incomplete (a real Pi asks more): pi32-pip, pi32-apt" in readme
    pi = readme.split("## What it means on a Pi", 1)[1].split("\n## ", 1)[0]
    assert all(words in pi for words in ("QEMU", "CPU model", "kernel", "16K", "piwheels"))
