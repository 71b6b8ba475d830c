"""probe.py run for real on the host, healthy and with fake broken NumPy packages first on PYTHONPATH."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from npmatrix.errors import ConfigError
from npmatrix.judge.classify import classify_probe
from npmatrix.judge.facts import summarize
from npmatrix.records import schemas
from npmatrix.verdict import Status

PROBE = Path(__file__).resolve().parents[2] / "src" / "npmatrix" / "container" / "probe.py"

OPENBLAS_MISSING = "libopenblas.so.0: cannot open shared object file: No such file or directory"
FAKE_NUMPY = {
    "importerror": f"raise ImportError({OPENBLAS_MISSING!r})\n",
    "segv": "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n",
    "hang": "import time\ntime.sleep(10 ** 6)\n",
    # OpenBLAS's runtime dispatch as the probe sees it: OPENBLAS_VERBOSE=2 makes it say which core it chose,
    # that core's kernel is an illegal instruction here, and a forced OPENBLAS_CORETYPE imports fine.
    "sigill-openblas": (
        "import os, signal, sys\n"
        "if os.environ.get('OPENBLAS_VERBOSE') == '2':\n"
        "    sys.stderr.write('Core: neoversev1\\n'); sys.stderr.flush()\n"
        "if not os.environ.get('OPENBLAS_CORETYPE'):\n"
        "    os.kill(os.getpid(), signal.SIGILL)\n"
        "__version__ = '2.3.5'\n"
    ),
    # NumPy's own code: no OpenBLAS core helps.
    "sigill-numpy": "import os, signal\nos.kill(os.getpid(), signal.SIGILL)\n",
    # Imports fine, like NumPy < 1.26 (show_config only prints), then crashes once bench.py uses it.
    "old-crashes-in-bench": (
        "import os, signal, sys\n"
        "__version__ = '1.19.0'\n"
        "def show_config():\n"
        "    print('blas_opt_info: fake')\n"
        "if os.path.basename(sys.argv[0]) == 'bench.py':\n"
        "    os.kill(os.getpid(), signal.SIGSEGV)\n"
    ),
}


def run_probe(*args: str, pythonpath: Path | None = None) -> tuple[subprocess.CompletedProcess[str], Any]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    proc = subprocess.run(
        [sys.executable, str(PROBE), *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    return proc, json.loads(proc.stdout)


def fake_numpy(tmp_path: Path, kind: str) -> Path:
    package = tmp_path / kind / "numpy"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(FAKE_NUMPY[kind])
    return package.parent


@pytest.fixture(scope="module")
def healthy() -> Any:
    proc, report = run_probe("--bench", "--sizes", "64,128", "--repeats", "3", "--import", "json")
    assert proc.returncode == 0, proc.stderr
    return report


@pytest.fixture(scope="module")
def probe_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("npmatrix_probe_under_test", PROBE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- healthy host -----------------------------------------------------------------------------------


def test_top_level_keys(healthy: Any) -> None:
    assert healthy["probe_version"] == 1
    for key in ("python", "platform", "pip", "env", "cpu", "numpy", "imports", "bench"):
        assert key in healthy
    assert healthy["probe_errors"] == []


def test_python_and_platform(healthy: Any) -> None:
    assert healthy["python"]["executable"] == sys.executable
    assert healthy["python"]["in_venv"] == (sys.prefix != sys.base_prefix)
    assert healthy["platform"]["pointer_bits"] in (32, 64)
    assert healthy["platform"]["libc"]["name"] == "glibc"
    assert healthy["cpu"]["count"] == os.cpu_count()


def test_pip_tags(healthy: Any) -> None:
    assert healthy["pip"]["error"] is None
    assert healthy["pip"]["version"]
    assert 0 < len(healthy["pip"]["tags"]) <= 10
    assert healthy["pip"]["tags"][0].startswith("cp3")


def test_numpy_imports(healthy: Any) -> None:
    numpy = healthy["numpy"]
    assert numpy["found"] and numpy["import_ok"]
    assert numpy["version"] == np.__version__
    assert numpy["returncode"] == 0 and numpy["signal"] is None and not numpy["timed_out"]
    assert Path(numpy["location"]) == Path(np.__file__).parent


def test_numpy_install_and_ldd(healthy: Any) -> None:
    numpy = healthy["numpy"]
    assert numpy["install"]["source"] == "wheel"
    assert numpy["install"]["wheel_tags"]
    assert numpy["core_extension"] and "_multiarray_umath" in numpy["core_extension"]
    assert numpy["ldd"]["error"] is None
    assert numpy["ldd"]["not_found"] == []
    assert "libc.so" in numpy["ldd"]["output"]


def test_numpy_config_and_cpu(healthy: Any) -> None:
    numpy = healthy["numpy"]
    assert isinstance(numpy["config"], dict) and numpy["config_text"] is None
    assert isinstance(numpy["cpu_baseline"], list)
    assert isinstance(numpy["cpu_features_found"], list)


def test_extra_import(healthy: Any) -> None:
    [json_import] = healthy["imports"]
    assert json_import["module"] == "json" and json_import["ok"] and json_import["version"]


def test_bench_both_thread_modes(healthy: Any) -> None:
    bench = healthy["bench"]
    assert bench["ran"] and bench["skipped_reason"] is None
    assert [run["threads"] for run in bench["runs"]] == ["single", "all"]
    for run in bench["runs"]:
        assert run["returncode"] == 0 and not run["partial"]
        assert {(r["dtype"], r["n"]) for r in run["results"]} == {
            (dtype, n) for dtype in ("float32", "float64") for n in (64, 128)
        }
        assert all(r["ok"] and r["gflops_median"] > 0 and len(r["times_s"]) == 3 for r in run["results"])


def test_bench_single_thread_env_reaches_blas(healthy: Any) -> None:
    single = healthy["bench"]["runs"][0]
    pools = single["threadpool_info"]
    assert pools, "threadpoolctl is a dependency, so bench.py must report BLAS pools"
    assert all(pool["num_threads"] == 1 for pool in pools)


def test_no_bench_without_flag() -> None:
    proc, report = run_probe("--timeout", "30")
    assert proc.returncode == 0
    assert report["bench"] is None


# --- broken NumPy -------------------------------------------------------------------------------------


def test_import_error_is_data(tmp_path: Path) -> None:
    proc, report = run_probe("--bench", pythonpath=fake_numpy(tmp_path, "importerror"))
    numpy = report["numpy"]
    assert proc.returncode == 0
    assert numpy["found"] and not numpy["import_ok"]
    assert numpy["returncode"] == 1 and numpy["signal"] is None
    assert OPENBLAS_MISSING in numpy["stderr_tail"]
    assert report["bench"] == {"ran": False, "skipped_reason": "numpy does not import", "runs": []}
    assert report["env"]["PYTHONPATH"] == str(tmp_path / "importerror")


def test_segfault_is_data(tmp_path: Path) -> None:
    proc, report = run_probe(pythonpath=fake_numpy(tmp_path, "segv"))
    numpy = report["numpy"]
    assert proc.returncode == 0
    assert not numpy["import_ok"]
    assert numpy["signal"] == "SIGSEGV" and numpy["returncode"] < 0
    # faulthandler names the module that crashed.
    assert "Segmentation fault" in numpy["stderr_tail"]
    assert "numpy/__init__.py" in numpy["stderr_tail"]
    assert numpy["ldd"]["error"] == "no compiled numpy extension found"


def test_sigill_from_openblas_dispatch_is_convicted_by_a_forced_core(tmp_path: Path) -> None:
    proc, report = run_probe(pythonpath=fake_numpy(tmp_path, "sigill-openblas"))
    numpy = report["numpy"]
    assert proc.returncode == 0 and numpy["signal"] == "SIGILL"
    safe = {"x86_64": "Prescott", "aarch64": "ARMV8"}[report["platform"]["machine"]]
    assert numpy["sigill_check"] == {"chosen_core": "neoversev1", "safe_core": safe, "imports_with_safe_core": True}
    schemas.validate("probe-output", report, where="sigill report")  # the shipped schema knows the check
    verdict = classify_probe(summarize(report))
    assert verdict.status is Status.CPU_UNSUPPORTED
    assert "OpenBLAS's runtime dispatch chose the kernel 'neoversev1' (an SVE/SME kernel)" in verdict.reason
    assert f"with OPENBLAS_CORETYPE={safe} the import works" in verdict.reason
    assert (verdict.fix or "").startswith(f"set OPENBLAS_CORETYPE={safe}")


def test_sigill_in_numpys_own_code_is_not_blamed_on_openblas(tmp_path: Path) -> None:
    _, report = run_probe(pythonpath=fake_numpy(tmp_path, "sigill-numpy"))
    check = report["numpy"]["sigill_check"]
    assert check["chosen_core"] is None and check["imports_with_safe_core"] is False
    verdict = classify_probe(summarize(report))
    assert verdict.status is Status.CPU_UNSUPPORTED
    assert "uses instructions this CPU" in verdict.reason and "did not help" in verdict.reason
    assert "OPENBLAS_CORETYPE" not in (verdict.fix or "")


def test_sigill_check_loads_the_bundled_openblas_alone(tmp_path: Path) -> None:
    root = fake_numpy(tmp_path, "sigill-numpy")
    libs = root / "numpy.libs"
    libs.mkdir()
    (libs / "libscipy_openblas64_-0123abcd.so").write_bytes(b"not an ELF file")  # ctypes refuses it: no core
    _, report = run_probe(pythonpath=root)
    check = report["numpy"]["sigill_check"]
    assert check["library"] == str(libs / "libscipy_openblas64_-0123abcd.so")
    assert check["library_core"] is None and check["library_signal"] is None
    # Had the library died alone of SIGILL (OpenBLAS's own init), that convicts OpenBLAS, not NumPy:
    report["numpy"]["sigill_check"]["library_signal"] = "SIGILL"
    verdict = classify_probe(summarize(report))
    assert "libscipy_openblas64_-0123abcd.so alone, without NumPy, dies of SIGILL too" in verdict.reason
    assert "OPENBLAS_CORETYPE=" in (verdict.fix or "")


def test_no_sigill_no_check(healthy: Any) -> None:
    assert "sigill_check" not in healthy["numpy"]


def test_hang_is_data(tmp_path: Path) -> None:
    proc, report = run_probe("--timeout", "3", pythonpath=fake_numpy(tmp_path, "hang"))
    numpy = report["numpy"]
    assert proc.returncode == 0
    assert not numpy["import_ok"] and numpy["timed_out"]
    assert numpy["returncode"] is None and numpy["signal"] is None
    # The child dumps its stack just before being killed, showing where it hung.
    assert "numpy/__init__.py" in numpy["stderr_tail"]


def test_old_numpy_config_text_and_bench_crash(tmp_path: Path) -> None:
    fake = fake_numpy(tmp_path, "old-crashes-in-bench")
    proc, report = run_probe("--bench", "--sizes", "64", pythonpath=fake)
    numpy = report["numpy"]
    assert proc.returncode == 0
    assert numpy["import_ok"] and numpy["version"] == "1.19.0"
    assert numpy["config"] is None and "blas_opt_info: fake" in numpy["config_text"]
    assert numpy["cpu_baseline"] is None and numpy["install"]["source"] == "other"
    assert report["bench"]["ran"]
    for run in report["bench"]["runs"]:
        assert run["signal"] == "SIGSEGV" and run["partial"] and run["results"] == []


def test_failing_extra_import(tmp_path: Path) -> None:
    proc, report = run_probe("--import", "no_such_module_npmatrix", "--timeout", "30")
    [result] = report["imports"]
    assert proc.returncode == 0
    assert not result["ok"] and result["returncode"] == 1
    assert "ModuleNotFoundError" in result["stderr_tail"]


# --- parsers, on canned text ------------------------------------------------------------------------------


def test_parse_pip_debug(probe_module: ModuleType) -> None:
    text = (
        "pip version: pip 23.0.1 from /usr/lib/python3/dist-packages/pip (python 3.11)\n"
        "Compatible tags: 3\n  cp311-cp311-manylinux_2_36_armv7l\n  cp311-abi3-linux_armv7l\n  py3-none-any\n"
        "Other: x\n"
    )
    assert probe_module.parse_pip_debug(text) == (
        "23.0.1",
        ["cp311-cp311-manylinux_2_36_armv7l", "cp311-abi3-linux_armv7l", "py3-none-any"],
        3,
    )


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("\tlibopenblas.so.0 => not found\n\tlibc.so.6 => /lib/libc.so.6 (0x1)\n", ["libopenblas.so.0"]),
        (
            "Error loading shared library libopenblas.so.3: No such file or directory (needed by x.so)\n",
            ["libopenblas.so.3"],
        ),
        ("\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x1)\n", []),
    ],
)
def test_parse_ldd_missing(probe_module: ModuleType, text: str, missing: list[str]) -> None:
    assert probe_module.parse_ldd_missing(text) == missing


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"model name": "AMD EPYC"}, "AMD EPYC"),
        ({"Processor": "ARMv7 Processor rev 4 (v7l)", "CPU part": "0xd03"}, "ARMv7 Processor rev 4 (v7l)"),
        ({"CPU implementer": "0x41", "CPU part": "0xd08"}, "CPU implementer 0x41 part 0xd08"),
        ({}, None),
    ],
)
def test_cpu_model_name(probe_module: ModuleType, fields: dict[str, str], name: str | None) -> None:
    assert probe_module.cpu_model_name(fields) == name


def test_debian_style_egg_info(probe_module: ModuleType, tmp_path: Path) -> None:
    # Debian's python3-numpy ships an egg-info (no WHEEL, no INSTALLER) next to the package.
    egg = tmp_path / "numpy-1.24.2.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: numpy\nVersion: 1.24.2\n")
    meta = probe_module.dist_metadata(str(egg))
    assert meta["version"] == "1.24.2" and not meta["has_wheel_file"] and meta["wheel_tags"] == []
    assert probe_module.install_source("/usr/lib/python3/dist-packages/numpy", meta, None) == "debian"


def _dist_info(tmp_path: Path, *, tag: str | None = None, direct_url: dict[str, Any] | None = None) -> dict[str, Any]:
    info = tmp_path / "numpy-2.3.5.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: numpy\nVersion: 2.3.5\n")
    if tag:
        (info / "WHEEL").write_text(f"Wheel-Version: 1.0\nGenerator: bdist_wheel\nTag: {tag}\n")
    if direct_url is not None:
        (info / "direct_url.json").write_text(json.dumps(direct_url))
    return {"path": str(info)}


@pytest.mark.parametrize(
    ("tag", "direct_url", "conda", "origin"),
    [
        ("cp311-cp311-manylinux_2_27_x86_64", None, False, "pypi-wheel"),
        ("cp311-cp311-musllinux_1_2_x86_64", None, False, "pypi-wheel"),
        ("cp311-cp311-linux_armv7l", None, False, "local-wheel"),  # piwheels, or pip's own source build
        ("cp311-cp311-linux_x86_64", {"url": "file:///src/numpy", "dir_info": {"editable": True}}, False, "editable"),
        (None, {"url": "https://example.org/numpy-2.3.5.tar.gz", "archive_info": {}}, False, "url"),
        (None, None, False, "source"),  # an egg-info-like install without a WHEEL file
        ("cp311-cp311-manylinux_2_27_x86_64", None, True, "conda"),
    ],
)
def test_origin_kind(
    probe_module: ModuleType,
    tmp_path: Path,
    tag: str | None,
    direct_url: dict[str, Any] | None,
    conda: bool,
    origin: str,
) -> None:
    info = _dist_info(tmp_path, tag=tag, direct_url=direct_url)["path"]
    meta = probe_module.dist_metadata(info)
    if conda:
        (tmp_path / "conda-meta").mkdir()
        (tmp_path / "conda-meta" / "numpy-2.3.5-py311h.json").write_text("{}")
    record = probe_module.conda_record(str(tmp_path))
    source = probe_module.install_source(str(tmp_path / "numpy"), meta, None)
    assert probe_module.origin_kind(source, meta, record) == origin


def test_the_host_numpy_reports_its_origin(healthy: Any) -> None:
    install = healthy["numpy"]["install"]
    assert install["origin"] == "pypi-wheel" and install["conda_record"] is None
    schemas.validate("probe-output", healthy, where="healthy report")
    bad = json.loads(json.dumps(healthy))
    bad["numpy"]["install"]["origin"] = "pypi"  # not one of the kinds
    with pytest.raises(ConfigError, match="origin"):
        schemas.validate("probe-output", bad, where="bad report")
    origin = summarize(healthy).origin
    assert origin is not None and not origin.stale and origin.running_version == np.__version__


def test_json_safe(probe_module: ModuleType) -> None:
    assert probe_module.json_safe({1: (float("nan"), {"b"}), "x": np.float32(1.5)}) == {"1": [None, ["b"]], "x": 1.5}


# --- saved outputs used by the host-side parser's tests ---------------------------------------------------

DATA = Path(__file__).resolve().parents[1] / "data"
NUMPY_KEYS = {
    "found",
    "location",
    "import_ok",
    "returncode",
    "signal",
    "timed_out",
    "stderr_tail",
    "duration_s",
    "version",
    "install",
    "config",
    "config_text",
    "cpu_baseline",
    "cpu_dispatch",
    "cpu_features_found",
    "threadpoolctl",
    "core_extension",
    "ldd",
}
INSTALL_KEYS = {"source", "dist_info", "installer", "wheel_tags", "debian_package", "debian_version"}
RUN_KEYS = {"threads", "returncode", "signal", "timed_out", "stderr_tail", "results"}
RESULT_KEYS = {
    "dtype",
    "n",
    "repeats",
    "times_s",
    "gflops_median",
    "gflops_q1",
    "gflops_q3",
    "gflops_iqr",
    "max_rel_error",
    "tolerance",
    "ok",
    "fp_warnings",
}


@pytest.mark.parametrize("name", ["probe-host-amd64-numpy-ok.json", "probe-host-numpy-segv.json"])
def test_saved_outputs_keep_the_contract(name: str) -> None:
    report = json.loads((DATA / name).read_text())
    assert NUMPY_KEYS.issubset(report["numpy"])
    assert INSTALL_KEYS.issubset(report["numpy"]["install"])
    assert {"output", "not_found", "error"}.issubset(report["numpy"]["ldd"])
    assert {"ran", "skipped_reason", "runs"}.issubset(report["bench"])
    for run in report["bench"]["runs"]:
        assert RUN_KEYS.issubset(run)
        assert all(RESULT_KEYS.issubset(result) for result in run["results"])
