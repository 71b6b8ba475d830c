"""`npmatrix report`, `npmatrix run --report`, the JSON format, log tails, and what happens without matplotlib."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import report_samples as samples
from click.testing import CliRunner

import npmatrix.run.runner
from npmatrix.cli import cli
from npmatrix.errors import ExitCode, MissingExtra
from npmatrix.present import reports
from npmatrix.present.reports import logs
from npmatrix.records import results

REPO = Path(__file__).resolve().parents[2]
DEFAULT = str(samples.DEFAULT)


def _main(*args: str, block_matplotlib: bool = False) -> subprocess.CompletedProcess[str]:
    """`npmatrix ARGS` through main(), optionally as if matplotlib were not installed."""
    block = "sys.modules['matplotlib'] = None; " if block_matplotlib else ""
    code = f"import sys; {block}sys.argv = ['npmatrix', *sys.argv[1:]]; from npmatrix.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True, check=False, timeout=120
    )


# --- npmatrix report ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "starts"),
    [
        ("md", "### npmatrix matrix/default.toml"),
        ("junit", '<?xml version="1.0"'),
        ("json", "{"),
        ("html", "<!DOCTYPE"),
    ],
)
def test_report_writes_each_format_to_out(tmp_path: Path, fmt: str, starts: str) -> None:
    out = tmp_path / "sub" / f"report.{fmt}"
    result = CliRunner().invoke(cli, ["report", DEFAULT, "--format", fmt, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith(starts)
    assert result.stdout == ""


def test_report_prints_to_stdout_without_out() -> None:
    result = CliRunner().invoke(cli, ["report", DEFAULT, "--format", "junit"])
    assert result.exit_code == 0
    assert result.stdout.count("<testcase ") == 4


def test_report_exit_code_is_0_even_when_cells_are_not_as_expected(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(samples.unexpected_night().to_json()))
    result = CliRunner().invoke(cli, ["report", str(path), "--format", "md"])
    assert result.exit_code == 0
    assert "2 NOT as expected" in result.stdout


def test_report_md_appends_to_the_github_step_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    for _ in range(2):
        assert CliRunner().invoke(cli, ["report", DEFAULT, "--format", "md"]).exit_code == 0
    text = summary.read_text()
    assert text.startswith("earlier step\n### npmatrix")
    assert text.count("| pi32-pip |") == 2
    assert CliRunner().invoke(cli, ["report", DEFAULT, "--format", "junit"]).exit_code == 0
    assert summary.read_text() == text  # only Markdown goes there


def test_no_step_summary_without_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert reports.append_step_summary("x", {}) is None


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read it: No such file or directory"), ("{", "cannot read it as JSON"), ("{}", "schema_version")],
)
def test_report_on_bad_input_is_one_line_and_exit_2(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "results.json"
    if content is not None:
        path.write_text(content)
    done = _main("report", str(path), "--format", "md")
    assert done.returncode == ExitCode.BAD_INPUT
    assert done.stderr.count("\n") == 1 and message in done.stderr and str(path) in done.stderr


# --- without matplotlib ------------------------------------------------------------------------------------


def test_html_without_matplotlib_is_one_line_naming_the_extra_and_exit_3() -> None:
    done = _main("report", DEFAULT, "--format", "html", block_matplotlib=True)
    assert done.returncode == ExitCode.ENGINE_UNAVAILABLE == 3
    assert done.stderr.strip().splitlines() == [
        "npmatrix: error: the HTML report draws its charts with matplotlib, which is not installed: "
        "pip install 'npmatrix[report]'"
    ]
    assert done.stdout == ""


def test_other_formats_need_no_matplotlib() -> None:
    done = _main("report", DEFAULT, "--format", "md", block_matplotlib=True)
    assert done.returncode == 0, done.stderr
    assert "| pi32-apt |" in done.stdout


def test_require_raises_only_for_html(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    reports.require(["md", "junit", "json"])
    with pytest.raises(MissingExtra, match=r"pip install 'npmatrix\[report\]'"):
        reports.require(["md", "html"])


# --- npmatrix run --report -------------------------------------------------------------------------------------


def _fake_run(monkeypatch: pytest.MonkeyPatch, calls: list[Path]) -> None:
    """runner.run as if the matrix ran: it writes the real run's results.json into OUT."""

    def run(plans: object, options: npmatrix.run.runner.RunOptions, *, progress: object) -> list[results.CellResult]:
        calls.append(options.out_dir)
        options.out_dir.mkdir(parents=True, exist_ok=True)
        (options.out_dir / "results.json").write_text(samples.DEFAULT.read_text())
        return list(samples.default().cells)

    monkeypatch.setattr(npmatrix.run.runner, "run", run)


def test_run_report_writes_the_reports_next_to_results_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []
    _fake_run(monkeypatch, calls)
    out = tmp_path / "night"
    result = CliRunner().invoke(cli, ["run", "--matrix", "default", "--out", str(out), "--report", "html,md,junit"])
    assert result.exit_code == 0, result.output
    assert calls == [out]
    assert sorted(p.name for p in out.iterdir()) == ["junit.xml", "report.html", "report.md", "results.json"]
    assert 'data-cell="pi32-pip"' in (out / "report.html").read_text()
    assert f"report: {out / 'junit.xml'}" in result.stderr


def test_run_without_report_writes_no_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_run(monkeypatch, [])
    out = tmp_path / "night"
    assert CliRunner().invoke(cli, ["run", "--matrix", "default", "--out", str(out)]).exit_code == 0
    assert [p.name for p in out.iterdir()] == ["results.json"]


@pytest.mark.parametrize(("value", "message"), [("pdf", "unknown report format 'pdf'"), ("html,json", "'json'")])
def test_run_report_rejects_unknown_formats_before_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    calls: list[Path] = []
    _fake_run(monkeypatch, calls)
    result = CliRunner().invoke(cli, ["run", "--out", str(tmp_path), "--report", value])
    assert result.exit_code == 2
    assert message in result.output and "choose from html, md, junit" in result.output
    assert calls == []


def test_run_report_html_without_matplotlib_stops_before_the_matrix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []
    _fake_run(monkeypatch, calls)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingExtra):
        CliRunner().invoke(cli, ["run", "--out", str(tmp_path), "--report", "md,html"], catch_exceptions=False)
    assert calls == []


def test_parse_formats() -> None:
    assert reports.parse_formats("html, md,html") == ("html", "md")
    with pytest.raises(ValueError, match="choose from html, md, junit"):
        reports.parse_formats("md,,junit")


# --- json ------------------------------------------------------------------------------------------------------


NEW_SUMMARY_KEYS = ("sigill", "origin", "blas_libraries", "openblas_threads", "cpu_count", "multiarch")


def test_json_is_the_document_as_the_run_wrote_it() -> None:
    text = reports.render(samples.default(), "json")
    original = json.loads(samples.DEFAULT.read_text())
    written = {cell["name"]: cell for cell in json.loads(text)["cells"]}
    for cell in original["cells"]:
        cell["inputs"].setdefault("source", "")  # matrix keys added after this run; today's writer writes them
        cell["inputs"].setdefault("memory", "2g")
        cell["inputs"].setdefault("pids", 512)
        cell["inputs"].setdefault("tmp_size", "64m")
        cell["inputs"].setdefault("board", None)
        if cell["summary"] is not None:  # digest fields added after this run: recomputed from its probe facts
            for key in NEW_SUMMARY_KEYS:
                cell["summary"].setdefault(key, written[cell["name"]]["summary"][key])
        if "advisories" in written[cell["name"]]:  # computed from the facts when written
            cell.setdefault("advisories", written[cell["name"]]["advisories"])
        cell["inputs"].setdefault("venv", True)
        cell["inputs"].setdefault("requirements", None)
        cell["inputs"].setdefault("find_links", None)
        cell["inputs"].setdefault("cpu_model", None)
        cell.setdefault("engine", None)  # recorded since issue 11; null: where it ran is not known
        # Version 1 said where a cell ran in three keys; version 2 in one placement (this run: no x86 emulator).
        oci, emulated, model = cell.pop("platform"), cell.pop("emulated"), cell.pop("qemu_cpu")
        cell["placement"] = {
            "platform": cell["inputs"]["platform"],
            "oci": oci,
            "emulator": "binfmt" if emulated else None,
            "qemu_cpu": model,
            "cpu_not_applied": False,
            "engine": None,
        }
        for bench_run in (cell["summary"] or {}).get("bench_runs", []):  # version 2: one name, exit_code
            bench_run["exit_code"] = bench_run.pop("returncode")
    original["schema_version"] = 2  # read from version 1, written as today's
    assert json.loads(text) == original
    assert results.from_json(json.loads(text), where="again").cells == samples.default().cells


# --- log tails -------------------------------------------------------------------------------------------------


def test_tail_keeps_the_last_lines_without_colour_codes_or_progress_rewrites(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    body = [f"line {i}" for i in range(50)] + ["\x1b[31mred\x1b[0m", "progress 10%\rprogress 100%", "", "x" * 500]
    log.write_text("\n".join(body) + "\n")
    tail = logs.tail_lines(log, 5)
    assert tail[:3] == ("line 48", "line 49", "red")
    assert tail[3] == "progress 100%"
    assert len(tail[4]) == logs.MAX_LINE and tail[4].endswith("…")


def test_tail_of_a_big_log_reads_only_its_end(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    log.write_text("".join(f"{i:08d} {'y' * 90}\n" for i in range(100_000)))  # ~10 MB
    tail = logs.tail_lines(log, 3)
    assert [t.split()[0] for t in tail] == ["00099997", "00099998", "00099999"]


def test_logs_are_found_beside_results_json_or_where_recorded_inside_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run_dir = tmp_path / "results"
    (run_dir / "logs").mkdir(parents=True)
    (run_dir / "logs" / "a.build.log").write_text("from the run\n")
    (run_dir / "nested").mkdir()
    (run_dir / "nested" / "n.log").write_text("recorded inside\n")
    elsewhere = tmp_path / "artifact"
    (elsewhere / "logs").mkdir(parents=True)
    (elsewhere / "logs" / "b.build.log").write_text("beside\n")
    assert logs.locate("results/logs/a.build.log", run_dir) == run_dir / "logs" / "a.build.log"
    assert logs.locate("results/nested/n.log", run_dir) == run_dir / "nested" / "n.log"
    assert logs.locate("results/logs/b.build.log", elsewhere) == elsewhere / "logs" / "b.build.log"
    assert logs.locate("results/logs/c.build.log", elsewhere) is None
    # A log recorded outside the artifact's own directory is not read, even when it exists.
    assert logs.locate("results/logs/a.build.log", elsewhere) is None


@pytest.mark.parametrize("recorded", ["/etc/passwd", "../../../../../../etc/passwd", "/proc/self/environ"])
def test_a_log_path_outside_the_run_directory_is_never_read(tmp_path: Path, recorded: str) -> None:
    assert logs.locate(recorded, tmp_path) is None


def test_a_symlink_out_of_the_run_directory_is_never_followed(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.build.log").symlink_to("/etc/passwd")
    (tmp_path / "inside.log").symlink_to("/etc/passwd")
    assert logs.locate("results/logs/a.build.log", tmp_path) is None
    assert logs.locate(str(tmp_path / "inside.log"), tmp_path) is None


def test_a_fifo_in_the_run_directory_is_not_waited_on(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    os.mkfifo(tmp_path / "logs" / "a.build.log")
    assert logs.locate("logs/a.build.log", tmp_path) is None
    with pytest.raises(ValueError, match="not a regular file"):
        logs.tail_lines(tmp_path / "logs" / "a.build.log", 3)
