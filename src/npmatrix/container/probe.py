#!/usr/bin/env python3
"""Describe this Python, this machine and its NumPy as ONE JSON object on stdout.

Usage: python3 probe.py [--bench] [--sizes 256,512,1024] [--repeats 5] [--import MOD ...] [--timeout SECONDS]

Runs inside build containers (any Python 3.7+, any architecture, often under QEMU) and on the host.
Stdlib only, never imports npmatrix, and never imports NumPy itself: every NumPy import happens in a
child process, so a segfault, SIGILL, abort or hang while importing becomes data instead of killing
the probe. Exit status is 0 whenever the report was produced, however broken NumPy is; 2 means a bug in
the probe (the report is still printed, with the tracebacks under "probe_errors").
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import glob
import importlib
import importlib.util
import io
import json
import math
import os
import platform
import re
import shutil
import signal
import struct
import subprocess
import sys
import sysconfig
import time
import traceback
import warnings

# Shared with the host: npmatrix/protocol.py defines these, tests/unit/test_protocol.py checks the copies.
PROBE_VERSION = 1
CHILD_FLAG = "--npmatrix-child"
# Children print their findings on lines starting with this marker, so anything NumPy itself prints on
# stdout while importing cannot corrupt the result.
MARKER = "NPMATRIX-JSON "
# Must match bench.py: bench streams each finished case on stderr, so a crash or timeout in a later,
# larger case still leaves the earlier results.
BENCH_RESULT_MARKER = "NPMATRIX-BENCH-RESULT "
EXEC_PREFIX_VAR = "NPMATRIX_EXEC_PREFIX"
# --bench-later: the benchmark would run (NumPy imports) but is left to a second call with --bench-only, so the
# host can keep timed benchmarks of concurrent cells from overlapping; the bench section then says this.
BENCH_DEFERRED = "deferred to a separate timed call"
STDERR_TAIL_LINES = 40
TOP_TAGS = 10
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")
ENV_PREFIXES = ("OPENBLAS_", "OMP_", "MKL_", "BLIS_", "GOTO", "NPY_", "QEMU_")
ENV_NAMES = ("LD_LIBRARY_PATH", "LD_PRELOAD", "PYTHONPATH", "PYTHONHOME")
DEBIAN_DIST_PACKAGES = "/usr/lib/python3/dist-packages"


def log(message: str) -> None:
    sys.stderr.write(f"probe: {message}\n")
    sys.stderr.flush()


def json_safe(value: object) -> object:
    """Turn anything (NumPy config dicts, enums, NaN) into strict JSON values."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(json_safe(v) for v in value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "dtype") and hasattr(value, "item"):  # NumPy scalar, in a child
        return json_safe(value.item())
    return str(value)


# --- running children -------------------------------------------------------------------------------


def signal_name(returncode: int | None) -> str | None:
    if returncode is None or returncode >= 0:
        return None
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"SIG{-returncode}"


def tail(text: str, lines: int = STDERR_TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:])


def kill_group(proc: subprocess.Popen) -> bytes:
    """Kill a timed-out child and everything it started; return what it wrote on stderr."""
    # The child leads its own session, so killing the group also reaches BLAS helper processes or
    # shells that would otherwise keep our pipes open and make communicate() block forever.
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        return b""
    return err or b""


def run_child(cmd: list[str], *, timeout: float, env: dict[str, str] | None = None) -> dict:
    """Run cmd; report exit status, signal and output, never raise for what the child does."""
    start = time.perf_counter()
    try:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
    except OSError as exc:
        return {
            "returncode": None,
            "signal": None,
            "timed_out": False,
            "stdout": "",
            "stderr": str(exc),
            "duration_s": 0.0,
            "error": f"cannot start {cmd[0]}: {exc}",
        }
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # We killed it, so its exit status says nothing about NumPy: report only timed_out.
        timed_out, out, err = True, b"", kill_group(proc)
    returncode = None if timed_out else proc.returncode
    return {
        "returncode": returncode,
        "signal": signal_name(returncode),
        "timed_out": timed_out,
        "stdout": out.decode("utf-8", "replace"),
        "stderr": err.decode("utf-8", "replace"),
        "duration_s": round(time.perf_counter() - start, 3),
        "error": None,
    }


def child_status(result: dict) -> dict:
    """The public part of a run_child result (what the contract calls the child's status)."""
    return {
        "returncode": result["returncode"],
        "signal": result["signal"],
        "timed_out": result["timed_out"],
        "stderr_tail": tail(result["stderr"]),
        "duration_s": result["duration_s"],
    }


def marker_records(stdout: str) -> list[dict]:
    records = []
    for line in stdout.splitlines():
        if line.startswith(MARKER):
            with contextlib.suppress(ValueError):
                records.append(json.loads(line[len(MARKER) :]))
    return records


def dump_after(timeout: float) -> float:
    """When a hung child should dump its Python stack: shortly before we kill it."""
    return max(0.5, timeout * 0.8)


def python_cmd() -> list[str]:
    # npmatrix runs an amd64 cell as an older x86 CPU by starting this probe under qemu-x86_64; binfmt does
    # not apply to native binaries, so the children must be started under the same emulator, which
    # EXEC_PREFIX_VAR names.
    return [*os.environ.get(EXEC_PREFIX_VAR, "").split(), sys.executable]


def probe_child_cmd(kind: str, timeout: float, *extra: str) -> list[str]:
    # -X faulthandler: a child dying of SIGSEGV/SIGILL/SIGABRT prints its Python stack to stderr,
    # which lands in stderr_tail and usually names the extension module that crashed.
    script = os.path.abspath(__file__)
    return [*python_cmd(), "-X", "faulthandler", script, CHILD_FLAG, kind, str(dump_after(timeout)), *extra]


# --- sections that need no NumPy ----------------------------------------------------------------------


def python_info() -> dict:
    base_prefix = getattr(sys, "base_prefix", sys.prefix)
    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "soabi": sysconfig.get_config_var("SOABI"),
        "multiarch": sysconfig.get_config_var("MULTIARCH"),
        "prefix": sys.prefix,
        "base_prefix": base_prefix,
        "in_venv": sys.prefix != base_prefix,
    }


def glibc_from_confstr() -> tuple[str, str]:
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, ValueError, OSError):
        return "", ""
    parts = text.split()
    return (parts[0], parts[1]) if len(parts) == 2 else ("", "")


def musl_version(timeout: float) -> tuple[str, str]:
    # platform.libc_ver() knows nothing of musl (Alpine); its loader prints "Version 1.2.4" when run bare.
    for loader in sorted(glob.glob("/lib/ld-musl-*.so.1")):
        found = re.search(r"Version\s+(\S+)", run_child([loader], timeout=timeout)["stderr"])
        return "musl", found.group(1) if found else ""
    return "", ""


def libc_info(timeout: float) -> dict:
    name, version = glibc_from_confstr()
    if not name:
        name, version = platform.libc_ver()
    if not name:
        name, version = musl_version(timeout)
    return {"name": name or None, "version": version or None}


def platform_info(timeout: float) -> dict:
    uname = os.uname()
    return {
        "machine": platform.machine(),
        "uname": {
            "sysname": uname.sysname,
            "release": uname.release,
            "version": uname.version,
            "machine": uname.machine,
        },
        "libc": libc_info(timeout),
        "byteorder": sys.byteorder,
        "pointer_bits": struct.calcsize("P") * 8,
    }


def parse_pip_debug(text: str) -> tuple[str | None, list[str], int | None]:
    """(pip version, compatible tags best first, number of tags) from `pip debug --verbose`."""
    found = re.search(r"^pip version:\s*(?:pip\s+)?(\S+)", text, re.MULTILINE)
    lines = text.splitlines()
    for index, line in enumerate(lines):
        count = re.match(r"Compatible tags:\s*(\d+)", line)
        if count:
            tags = []
            for tag_line in lines[index + 1 :]:
                if not tag_line.startswith(" "):
                    break
                tags.append(tag_line.strip())
            return (found.group(1) if found else None), tags, int(count.group(1))
    return (found.group(1) if found else None), [], None


def pip_info(timeout: float) -> dict:
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", PIP_NO_COLOR="1")
    result = run_child([sys.executable, "-m", "pip", "debug", "--verbose"], timeout=timeout, env=env)
    version, tags, count = parse_pip_debug(result["stdout"])
    error = result["error"]
    if result["timed_out"]:
        error = f"pip debug timed out after {timeout}s"
    elif result["returncode"] != 0:
        error = tail(result["stderr"], 3) or f"pip debug exited {result['returncode']}"
    elif not tags:
        error = "no 'Compatible tags' section in pip debug output"
    return {"version": version, "tags": tags[:TOP_TAGS], "tags_count": count, "error": error}


def env_info() -> dict:
    return {
        name: value for name, value in sorted(os.environ.items()) if name.startswith(ENV_PREFIXES) or name in ENV_NAMES
    }


def read_cpuinfo(path: str = "/proc/cpuinfo") -> dict[str, str]:
    """First value of each key; on multi-core machines later blocks repeat the first one."""
    fields: dict[str, str] = {}
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            key, sep, value = line.partition(":")
            if sep and key.strip() not in fields:
                fields[key.strip()] = value.strip()
    return fields


def cpu_model_name(fields: dict[str, str]) -> str | None:
    # x86 says "model name"; 32-bit ARM kernels say "Processor" or "model name"; arm64 kernels give only
    # the implementer/part numbers (0x41/0xd08 = Arm Cortex-A72), which the host can map to a name.
    for key in ("model name", "Processor", "cpu model", "Hardware"):
        if fields.get(key):
            return fields[key]
    if fields.get("CPU part"):
        return f"CPU implementer {fields.get('CPU implementer', '?')} part {fields['CPU part']}"
    return None


def cpu_info() -> dict:
    try:
        fields = read_cpuinfo()
        error = None
    except OSError as exc:
        fields, error = {}, str(exc)
    features = (fields.get("flags") or fields.get("Features") or "").split()
    arm_ids = {
        key: fields[key]
        for key in ("CPU implementer", "CPU architecture", "CPU variant", "CPU part", "CPU revision")
        if key in fields
    }
    try:
        mhz = float(fields["cpu MHz"])
    except (KeyError, ValueError):
        mhz = None
    return {
        "model_name": cpu_model_name(fields),
        "mhz": mhz,
        "features": sorted(set(features)),
        "count": os.cpu_count(),
        "arm_ids": arm_ids or None,
        "error": error,
    }


# --- NumPy, located without importing it ------------------------------------------------------------


def locate_numpy() -> tuple[str | None, str | None]:
    """(package directory, error); find_spec on a top-level name does not execute numpy/__init__.py."""
    try:
        spec = importlib.util.find_spec("numpy")
    except (ImportError, ValueError) as exc:
        return None, str(exc)
    if spec is None:
        return None, None
    locations = list(spec.submodule_search_locations or [])
    if locations:
        return locations[0], None
    return (os.path.dirname(spec.origin) if spec.origin else None), None


def first_glob(directory: str, subdirs: tuple[str, ...], pattern: str) -> str | None:
    for subdir in subdirs:
        hits = sorted(glob.glob(os.path.join(directory, subdir, pattern)))
        if hits:
            return hits[0]
    return None


def core_extension(location: str | None) -> str | None:
    # NumPy 2 moved it to numpy/_core; numpy/core survives there only as a pure-Python shim.
    return first_glob(location, ("_core", "core"), "_multiarray_umath*.so") if location else None


def linalg_extension(location: str | None) -> str | None:
    return first_glob(location, ("linalg",), "_umath_linalg*.so") if location else None


def parse_ldd_missing(text: str) -> list[str]:
    glibc = re.findall(r"^\s*(\S+)\s+=>\s+not found", text, re.MULTILINE)
    musl = re.findall(r"Error loading shared library\s+([^\s:]+)", text)
    return glibc + musl


def ldd_info(paths: list[str], timeout: float) -> dict:
    if not paths:
        return {"output": "", "outputs": {}, "not_found": [], "error": "no compiled numpy extension found"}
    ldd = shutil.which("ldd")
    if ldd is None:
        return {"output": "", "outputs": {}, "not_found": [], "error": "ldd not found on PATH"}
    outputs, not_found, errors = {}, [], []
    for path in paths:
        result = run_child([ldd, path], timeout=timeout)
        outputs[path] = result["stdout"] + result["stderr"]
        not_found += [lib for lib in parse_ldd_missing(outputs[path]) if lib not in not_found]
        if result["returncode"] != 0:
            suffix = " (timed out)" if result["timed_out"] else ""
            errors.append(f"ldd {path}: exit {result['returncode']}{suffix}")
    output = "\n".join(f"== {path} ==\n{text}" for path, text in outputs.items())
    return {"output": output, "outputs": outputs, "not_found": not_found, "error": "; ".join(errors) or None}


def find_dist_info(location: str | None) -> list[str]:
    """numpy-*.dist-info / *.egg-info next to the numpy package that would be imported."""
    # Only that directory: metadata found elsewhere on sys.path belongs to another, shadowed NumPy
    # (e.g. a wheel in site-packages behind a source tree on PYTHONPATH) and would misreport the source.
    if location is None:
        return []
    directory = os.path.dirname(location)
    hits: list[str] = []
    for pattern in ("numpy-*.dist-info", "numpy-*.egg-info"):
        hits += glob.glob(os.path.join(directory, pattern))
    return sorted(hits)


def read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def dist_metadata(dist_info: str) -> dict:
    # A distutils-era egg-info may be a single PKG-INFO-style file rather than a directory.
    is_dir = os.path.isdir(dist_info)
    if is_dir:
        metadata = read_text(os.path.join(dist_info, "METADATA"))
        metadata = metadata or read_text(os.path.join(dist_info, "PKG-INFO"))
    else:
        metadata = read_text(dist_info)
    metadata = metadata or ""
    wheel = read_text(os.path.join(dist_info, "WHEEL")) if is_dir else None
    installer = read_text(os.path.join(dist_info, "INSTALLER")) if is_dir else None
    direct_url = read_json(os.path.join(dist_info, "direct_url.json")) if is_dir else None
    version = re.search(r"^Version:\s*(\S+)", metadata, re.MULTILINE)
    generator = re.search(r"^Generator:\s*(.+)$", wheel or "", re.MULTILINE)
    return {
        "version": version.group(1) if version else None,
        "installer": installer.strip() if installer else None,
        "has_wheel_file": wheel is not None,
        "wheel_tags": re.findall(r"^Tag:\s*(\S+)", wheel or "", re.MULTILINE),
        "wheel_generator": generator.group(1).strip() if generator else None,
        "direct_url": direct_url,
        "requested": is_dir and os.path.exists(os.path.join(dist_info, "REQUESTED")),
    }


def read_json(path: str) -> dict | None:
    text = read_text(path)
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def conda_record(prefix: str) -> str | None:
    """conda-meta/numpy-<version>-<build>.json of the environment this Python runs in, if conda installed it."""
    hits = sorted(glob.glob(os.path.join(prefix, "conda-meta", "numpy-[0-9]*.json")))
    return hits[-1] if hits else None


def origin_kind(source: str, meta: dict, conda: str | None) -> str:
    """Where this NumPy came from, as one word: pypi-wheel (a manylinux/musllinux wheel, what PyPI ships),
    local-wheel (a wheel tagged plain linux_<arch>: built on a machine, as piwheels does), debian, conda,
    editable, url (pip installed a file or URL), source (an egg-info: setup.py install), unknown."""
    direct = meta.get("direct_url") or {}
    if conda:
        return "conda"
    if (direct.get("dir_info") or {}).get("editable"):
        return "editable"
    if source == "debian":
        return "debian"
    tags = meta.get("wheel_tags") or []
    if any("manylinux" in t or "musllinux" in t for t in tags):
        return "pypi-wheel"
    if tags:
        return "local-wheel"
    if direct.get("url"):
        return "url"
    if meta.get("version") and not meta.get("has_wheel_file"):
        return "source"
    return "unknown"


def debian_package(location: str, timeout: float) -> tuple[str | None, str | None]:
    """(package, version) owning location according to dpkg, or (None, None)."""
    dpkg_query = shutil.which("dpkg-query")
    if dpkg_query is None:
        return None, None
    owner = run_child([dpkg_query, "-S", location], timeout=timeout)
    if owner["returncode"] != 0 or ":" not in owner["stdout"]:
        return None, None
    # "python3-numpy: /usr/lib/..." or, for Multi-Arch: same, "python3-numpy:armhf: /usr/lib/...".
    qualified = owner["stdout"].splitlines()[0].split(": ", 1)[0].split(",")[0].strip()
    query = run_child([dpkg_query, "-W", "-f", "${Version}", qualified], timeout=timeout)
    version = query["stdout"].strip() if query["returncode"] == 0 else None
    return qualified.split(":")[0], version or None


def install_source(location: str | None, meta: dict, deb_package: str | None) -> str:
    if location is None:
        return "unknown"
    if deb_package or (location.startswith(DEBIAN_DIST_PACKAGES) and not meta.get("has_wheel_file")):
        return "debian"
    return "wheel" if meta.get("has_wheel_file") else "other"


def install_info(location: str | None, timeout: float) -> dict:
    candidates = find_dist_info(location)
    # Several candidates mean a botched upgrade left stale metadata; the newest one is the last install.
    dist_info = max(candidates, key=os.path.getmtime) if candidates else None
    meta = dist_metadata(dist_info) if dist_info else {}
    deb_package, deb_version = debian_package(location, timeout) if location else (None, None)
    source = install_source(location, meta, deb_package)
    conda = conda_record(sys.prefix)
    direct = meta.get("direct_url") or {}
    return {
        "source": source,
        "origin": origin_kind(source, meta, conda),
        "direct_url": direct.get("url"),
        "requested": meta.get("requested"),
        "conda_record": conda,
        "dist_info": dist_info,
        "dist_info_candidates": candidates,
        "dist_version": meta.get("version"),
        "installer": meta.get("installer"),
        "wheel_tags": meta.get("wheel_tags", []),
        "wheel_generator": meta.get("wheel_generator"),
        "debian_package": deb_package,
        "debian_version": deb_version,
    }


# --- NumPy, imported in a child -----------------------------------------------------------------------


def import_numpy_in_child(timeout: float) -> dict:
    log(f"importing numpy in a child (timeout {timeout}s)")
    result = run_child(probe_child_cmd("numpy", timeout), timeout=timeout)
    records = marker_records(result["stdout"])
    imported = next((r for r in records if r.get("stage") == "imported"), None)
    details = next((r for r in records if r.get("stage") == "details"), {})
    info = {"import_ok": imported is not None}
    info.update(child_status(result))
    info.update(
        {
            "version": imported.get("version") if imported else None,
            "file": imported.get("file") if imported else None,
            "config": details.get("config"),
            "config_text": details.get("config_text"),
            "cpu_baseline": details.get("cpu_baseline"),
            "cpu_dispatch": details.get("cpu_dispatch"),
            "cpu_features_found": details.get("cpu_features_found"),
            "threadpoolctl": details.get("threadpoolctl"),
            "blas_runtime": details.get("blas_runtime"),
            "detail_errors": details.get("errors") or None,
        }
    )
    return info


# An OpenBLAS kernel every core of the architecture runs (OPENBLAS_CORETYPE names one of a DYNAMIC_ARCH build).
SAFE_OPENBLAS_CORE = {"x86_64": "Prescott", "aarch64": "ARMV8"}


def bundled_openblas(location: str | None) -> str | None:
    """The OpenBLAS a NumPy wheel bundles (numpy.libs/libscipy_openblas64_-*.so, libopenblas64_p-*.so)."""
    if not location:
        return None
    hits = sorted(glob.glob(os.path.join(os.path.dirname(location), "numpy.libs", "*openblas*.so*")))
    return hits[0] if hits else None


def sigill_check(timeout: float, location: str | None = None) -> dict:
    """After `import numpy` died of SIGILL: which kernel OpenBLAS's runtime dispatch chose (OPENBLAS_VERBOSE=2
    prints "Core: <name>" before running it), and whether the import works with a safe core forced. Only a
    DYNAMIC_ARCH OpenBLAS (NumPy's wheels) reads OPENBLAS_CORETYPE, so a success there convicts the dispatch,
    not NumPy's own build baseline."""
    log("import died of SIGILL: asking OpenBLAS which core it chose")
    verbose = run_child(probe_child_cmd("numpy", timeout), timeout=timeout, env=dict(os.environ, OPENBLAS_VERBOSE="2"))
    found = re.findall(r"Core:\s*(\S+)", verbose["stderr"])
    safe = SAFE_OPENBLAS_CORE.get(platform.machine())
    check = {"chosen_core": found[-1] if found else None, "safe_core": safe, "imports_with_safe_core": None}
    library = bundled_openblas(location)
    if library:
        # The library alone, through ctypes: its core name without NumPy, or the same crash in its own init.
        alone = run_child(probe_child_cmd("corename", timeout, library), timeout=timeout)
        record = next(iter(marker_records(alone["stdout"])), {})
        check.update({"library": library, "library_core": record.get("corename"), "library_signal": alone["signal"]})
    if safe:
        env = dict(os.environ, OPENBLAS_CORETYPE=safe)
        forced = run_child(probe_child_cmd("numpy", timeout), timeout=timeout, env=env)
        check["imports_with_safe_core"] = any(r.get("stage") == "imported" for r in marker_records(forced["stdout"]))
    return check


def numpy_info(timeout: float) -> dict:
    location, find_error = locate_numpy()
    core, linalg = core_extension(location), linalg_extension(location)
    info = {"found": location is not None, "location": location, "find_error": find_error}
    info.update(import_numpy_in_child(timeout))
    if info.get("signal") == "SIGILL":
        info["sigill_check"] = sigill_check(timeout, location)
    info["install"] = install_info(location, timeout)
    info["core_extension"] = core
    info["linalg_extension"] = linalg
    info["ldd"] = ldd_info([p for p in (core, linalg) if p], timeout)
    return info


def import_module_in_child(module: str, timeout: float) -> dict:
    log(f"importing {module} in a child")
    result = run_child(probe_child_cmd("import", timeout, module), timeout=timeout)
    record = next(iter(marker_records(result["stdout"])), None)
    info = {"module": module, "ok": record is not None}
    info.update(child_status(result))
    info["version"] = record.get("version") if record else None
    return info


# --- benchmark ------------------------------------------------------------------------------------------


def bench_env(threads: str) -> dict[str, str]:
    env = dict(os.environ)
    for name in THREAD_VARS:
        if threads == "single":
            env[name] = "1"
        else:
            env.pop(name, None)  # "all" means the libraries' own default, whatever the container set
    return env


def split_bench_stderr(stderr: str) -> tuple[list[dict], str]:
    """(results streamed by bench.py, stderr without those lines)."""
    results, kept = [], []
    for line in stderr.splitlines():
        if line.startswith(BENCH_RESULT_MARKER):
            with contextlib.suppress(ValueError):
                results.append(json.loads(line[len(BENCH_RESULT_MARKER) :]))
        else:
            kept.append(line)
    return results, "\n".join(kept)


def parse_bench_stdout(stdout: str) -> dict | None:
    try:
        payload = json.loads(stdout)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def bench_run(script: str, threads: str, args: argparse.Namespace) -> dict:
    log(f"bench, {threads} thread(s)")
    cmd = [
        *python_cmd(),
        "-X",
        "faulthandler",
        script,
        "--sizes",
        ",".join(str(n) for n in args.sizes),
        "--repeats",
        str(args.repeats),
        "--dump-after",
        str(dump_after(args.bench_timeout)),
    ]
    result = run_child(cmd, timeout=args.bench_timeout, env=bench_env(threads))
    streamed, result["stderr"] = split_bench_stderr(result["stderr"])
    payload = parse_bench_stdout(result["stdout"])
    run = {"threads": threads}
    run.update(child_status(result))
    run.update(
        {
            "results": payload.get("results", []) if payload else streamed,
            "partial": payload is None,
            "numpy_version": payload.get("numpy_version") if payload else None,
            "threadpool_info": payload.get("threadpool_info") if payload else None,
            "error": result["error"],
        }
    )
    return run


def bench_info(args: argparse.Namespace, numpy_ok: bool) -> dict | None:
    if not (args.bench or args.bench_only):
        return None
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench.py")
    skipped = None
    if not numpy_ok:
        skipped = "numpy does not import"
    elif not os.path.isfile(script):
        skipped = f"bench.py not found next to probe.py ({script})"
    if skipped:
        return {"ran": False, "skipped_reason": skipped, "runs": []}
    if args.bench_later:
        return {"ran": False, "skipped_reason": BENCH_DEFERRED, "runs": []}
    runs = [bench_run(script, threads, args) for threads in ("single", "all")]
    return {"ran": True, "skipped_reason": None, "runs": runs}


# --- child side: the only code that imports NumPy ---------------------------------------------------


def emit(record: dict) -> None:
    sys.stdout.write(MARKER + json.dumps(json_safe(record), allow_nan=False) + "\n")
    sys.stdout.flush()


def numpy_config(np: object) -> dict:
    try:
        return {"config": np.show_config(mode="dicts"), "config_text": None}
    except TypeError:  # NumPy < 1.26 has no mode= and only prints
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            np.show_config()
        return {"config": None, "config_text": buffer.getvalue()}


def numpy_cpu(np: object) -> dict:
    module = None
    for name in ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # numpy.core is deprecated in NumPy 2
                module = importlib.import_module(name)
            break
        except ImportError:
            continue
    baseline = getattr(module, "__cpu_baseline__", None)
    dispatch = getattr(module, "__cpu_dispatch__", None)
    features = getattr(module, "__cpu_features__", None)
    return {
        "cpu_baseline": list(baseline) if baseline is not None else None,
        "cpu_dispatch": list(dispatch) if dispatch is not None else None,
        "cpu_features_found": sorted(k for k, v in features.items() if v) if features is not None else None,
    }


def numpy_threadpools(np: object) -> dict:
    try:
        import threadpoolctl
    except ImportError:
        return {"threadpoolctl": None}
    return {"threadpoolctl": threadpoolctl.threadpool_info()}


_BLAS_LIBRARY = re.compile(r"\S*/lib\w*(openblas|blas|lapack|blis|mkl|flexiblas)\S*\.so[\w.]*$")


def numpy_blas_runtime(np: object) -> dict:
    """Which BLAS libraries are loaded, and for OpenBLAS the kernel it picked for this CPU.

    The kernel (openblas_get_corename: "Haswell", "cortexa72", "neoversev1", ...) is what the BLAS
    actually saw of the CPU; under QEMU it follows the emulated model, which is why cells name one.
    """
    importlib.import_module("numpy.linalg")  # loads LAPACK, and with it the BLAS of Debian's NumPy
    libraries = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            found = _BLAS_LIBRARY.search(line.strip())
            if found and found.group(0) not in libraries:
                libraries.append(found.group(0))
    return {"blas_runtime": {"libraries": libraries, "openblas": openblas_facts(libraries)}}


def openblas_facts(libraries: list) -> dict | None:
    import ctypes

    for path in libraries:
        if "openblas" not in path and "libblas" not in path:
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        # scipy-openblas (NumPy's wheels) prefixes and suffixes its symbols; Debian's does neither.
        for prefix, suffix in (
            ("scipy_openblas", "64_"),
            ("scipy_openblas", ""),
            ("openblas", "64_"),
            ("openblas", ""),
        ):
            corename = getattr(lib, prefix + "_get_corename" + suffix, None)
            if corename is None:
                continue
            corename.restype = ctypes.c_char_p
            config = getattr(lib, prefix + "_get_config" + suffix, None)
            if config is not None:
                config.restype = ctypes.c_char_p
            threads = getattr(lib, prefix + "_get_num_threads" + suffix, None)
            return {
                "library": path,
                "corename": (corename() or b"").decode(errors="replace"),
                "config": (config() or b"").decode(errors="replace") if config is not None else None,
                "num_threads": int(threads()) if threads is not None else None,
            }
    return None


def child_numpy() -> None:
    import numpy

    emit({"stage": "imported", "version": numpy.__version__, "file": numpy.__file__})
    details = {"stage": "details", "errors": {}}
    for name, collect in (
        ("config", numpy_config),
        ("cpu", numpy_cpu),
        ("threadpoolctl", numpy_threadpools),
        ("blas_runtime", numpy_blas_runtime),
    ):
        try:
            details.update(collect(numpy))
        except Exception as exc:  # one failing detail must not hide the others
            details["errors"][name] = f"{type(exc).__name__}: {exc}"
    emit(details)


def child_import(module: str) -> None:
    imported = importlib.import_module(module)
    emit({"version": getattr(imported, "__version__", None)})


def child_corename(path: str) -> None:
    facts = openblas_facts([path]) or {}
    emit({"corename": facts.get("corename")})


def child_main(argv: list[str]) -> int:
    kind, dump_seconds = argv[0], float(argv[1])
    # A hang is killed by the parent; dumping the stack just before shows where it hung.
    faulthandler.dump_traceback_later(dump_seconds, exit=False)
    if kind == "numpy":
        child_numpy()
    elif kind == "import":
        child_import(argv[2])
    elif kind == "corename":
        child_corename(argv[2])
    else:
        raise SystemExit(f"unknown child kind {kind!r}")
    faulthandler.cancel_dump_traceback_later()
    return 0


# --- main -------------------------------------------------------------------------------------------------


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive integers, got {text!r}")
    return sizes


def page_alignment_info() -> dict:
    """pagesize.py's scan of this Python's site-packages: what a Raspberry Pi 5's 16K-page kernel would refuse.
    Loaded from this script's own folder by path, so the probe stays one standalone file where it is absent."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pagesize.py")
    spec = importlib.util.spec_from_file_location("npmatrix_pagesize", path)
    if not os.path.isfile(path) or spec is None or spec.loader is None:
        return {"error": f"{path} is missing: it is copied beside probe.py"}
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.scan(module.default_directories())


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Report on this Python and its NumPy as one JSON object.")
    parser.add_argument("--bench", action="store_true", help="also run bench.py (single and all threads)")
    parser.add_argument("--sizes", type=parse_sizes, default=[256, 512, 1024], help="GEMM sizes: 256,512")
    parser.add_argument("--repeats", type=int, default=5, help="timed products per size and dtype")
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MOD",
        help="also import MOD in its own child (repeatable)",
    )
    stage = parser.add_mutually_exclusive_group()
    stage.add_argument(
        "--bench-later", action="store_true", help="with --bench: check NumPy imports, leave the timing to --bench-only"
    )
    stage.add_argument("--bench-only", action="store_true", help="only the benchmark (NumPy known to import)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per child (import, pip, ldd)")
    parser.add_argument("--bench-timeout", type=float, default=1800.0, help="seconds per benchmark run")
    parser.add_argument(
        "--page-alignment", action="store_true", help="also check site-packages for a 16K-page kernel (pagesize.py)"
    )
    return parser.parse_args(argv)


def build_report(args: argparse.Namespace) -> dict:
    errors: list[dict] = []

    def section(name: str, collect, *collect_args):
        # A bug in one section must not cost the whole report; it is listed and makes the exit status 2.
        try:
            return collect(*collect_args)
        except Exception:
            errors.append({"section": name, "traceback": traceback.format_exc()})
            return None

    start = time.perf_counter()
    report = {"probe_version": PROBE_VERSION}
    if args.bench_only:
        # The second call of a split probe: the host merges this bench section into the first call's report.
        report["bench"] = section("bench", bench_info, args, True)
        report["probe_duration_s"] = round(time.perf_counter() - start, 3)
        report["probe_errors"] = errors
        return report
    report["python"] = section("python", python_info)
    report["platform"] = section("platform", platform_info, args.timeout)
    report["pip"] = section("pip", pip_info, args.timeout)
    report["env"] = section("env", env_info)
    report["cpu"] = section("cpu", cpu_info)
    report["numpy"] = section("numpy", numpy_info, args.timeout)
    report["imports"] = [section("import", import_module_in_child, m, args.timeout) for m in args.imports]
    numpy_ok = bool(report["numpy"] and report["numpy"].get("import_ok"))
    report["bench"] = section("bench", bench_info, args, numpy_ok)
    if args.page_alignment:
        report["page_alignment"] = section("page_alignment", page_alignment_info)
    report["probe_duration_s"] = round(time.perf_counter() - start, 3)
    report["probe_errors"] = errors
    return report


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == [CHILD_FLAG]:
        return child_main(argv[1:])
    report = build_report(parse_args(argv))
    sys.stdout.write(json.dumps(json_safe(report), indent=2, allow_nan=False) + "\n")
    sys.stdout.flush()
    return 2 if report["probe_errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
