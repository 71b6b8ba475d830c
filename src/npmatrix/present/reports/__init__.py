"""Reports of a results.json for people and CI systems: HTML, Markdown, JUnit XML, and the results JSON itself.

`npmatrix report RESULTS --format FORMAT` and `npmatrix run --report html,md,junit` both come here. Every
report reads the results through npmatrix.records.results, never raw keys. Rendering is pure (html_page, markdown,
junit); this module adds the file side: log tails for HTML, the files `run` writes, GitHub's step summary.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal, get_args

from npmatrix import fileio, text
from npmatrix.errors import ConfigError, MissingExtra
from npmatrix.records import schemas
from npmatrix.records.results import Results

Format = Literal["html", "md", "junit", "json"]
FORMATS: tuple[Format, ...] = get_args(Format)
RUN_FORMATS: tuple[Format, ...] = ("html", "md", "junit")  # `run` has results.json already
FILE_NAMES: Mapping[Format, str] = {
    "html": "report.html",
    "md": "report.md",
    "junit": "junit.xml",
    "json": "results.json",
}
INSTALL_HINT = "pip install 'npmatrix[report]'"


def require(formats: Iterable[Format]) -> None:
    """Fail before any work when a format needs an extra that is not installed: a nightly run should not
    spend an hour on the matrix and then find it cannot draw its report."""
    if "html" not in formats:
        return
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        message = f"the HTML report draws its charts with matplotlib, which is not installed: {INSTALL_HINT}"
        raise MissingExtra(message) from None


def render(results: Results, fmt: Format, *, history: Sequence[Results] = ()) -> str:
    """The report's text, with credentials redacted and escapes made visible (text.printable) wherever they
    came from: every report, on stdout, in a file or in GitHub's step summary, is rendered here. HTML also
    reads the tail of each log results.json names, where it can find them."""
    return text.printable(_render(results, fmt, history=history))


def _render(results: Results, fmt: Format, *, history: Sequence[Results]) -> str:
    if fmt == "html":
        from npmatrix.present.reports import html_page, logs

        require([fmt])
        return html_page.render_html(results, history=history, log_tails=logs.read_tails(results))
    if fmt == "md":
        from npmatrix.present.reports.markdown import render_markdown

        return render_markdown(results)
    if fmt == "junit":
        from npmatrix.present.reports.junit import render_junit

        return render_junit(results)
    return render_json(results)


def render_json(results: Results) -> str:
    """The results document as the run wrote it, checked against the shipped schema again."""
    document = results.to_json()
    schemas.validate("results", document, where=results.source)
    return json.dumps(text.redact_document(document), indent=2) + "\n"


def write_all(
    results: Results, formats: Iterable[Format], out_dir: Path, *, history: Sequence[Results] = ()
) -> list[Path]:
    """Each report under its file name (FILE_NAMES) in `out_dir`, written atomically."""
    written = []
    for fmt in formats:
        path = out_dir / FILE_NAMES[fmt]
        fileio.write_atomic(path, render(results, fmt, history=history))
        written.append(path)
    return written


def append_step_summary(markdown: str, environ: Mapping[str, str]) -> Path | None:
    """Append to GitHub's job summary when Actions names one ($GITHUB_STEP_SUMMARY); the file is GitHub's and
    other steps write to it too, so it is appended to, never replaced."""
    target = environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    path = Path(target)
    try:
        with path.open("a", encoding="utf-8") as out:
            out.write(markdown if markdown.endswith("\n") else markdown + "\n")
    except OSError as exc:
        raise ConfigError(f"cannot append to $GITHUB_STEP_SUMMARY: {exc.strerror}", where=target) from None
    return path


def parse_formats(text: str, *, allowed: Sequence[Format] = RUN_FORMATS) -> tuple[Format, ...]:
    """ "html,md" -> ("html", "md"); ValueError naming what is allowed."""
    chosen: list[Format] = []
    for part in (p.strip() for p in text.split(",")):
        match = next((f for f in allowed if f == part), None)
        if match is None:
            raise ValueError(f"unknown report format {part!r}; choose from {', '.join(allowed)}")
        if match not in chosen:
            chosen.append(match)
    return tuple(chosen)
