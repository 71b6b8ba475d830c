# npmatrix: two commands on a fresh machine.
#   make matrix   stand up the engine if none runs, build what is missing, run the default matrix
#   make test     lint, type-check, unit tests, and integration tests against the real engine
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= results
MATRIX ?= matrix/default.toml

.PHONY: matrix gallery test engine bases test-tools venv lint unit integration doctor clean

$(BIN)/npmatrix: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

venv: $(BIN)/npmatrix

# Never touches an engine that already answers; as root on Debian/Ubuntu it installs and starts one.
engine:
	scripts/engine-up

# Tools the tests need besides the engine: headless Chromium for the HTML report's browser test.
test-tools:
	scripts/test-tools-up

matrix: venv engine
	$(BIN)/npmatrix run --matrix $(MATRIX) --out $(OUT)

# The failure gallery: every real-world failure, reproduced; exits 1 if any cell ends differently.
gallery: venv engine
	$(BIN)/npmatrix run --matrix gallery --out $(OUT)/gallery

doctor: venv
	$(BIN)/npmatrix doctor --matrix $(MATRIX)

lint: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest tests/unit -q

# Every base image the tests need (Debian bookworm and trixie, three platforms each), made at once: mmdebstrap
# waits on downloads and emulated maintainer scripts, so six together take little longer than the slowest.
# Existing ones are kept; a fresh machine (CI) makes them all here instead of one matrix after another.
bases: venv engine
	$(BIN)/npmatrix base build --matrix default --log-dir $(OUT)/logs & default=$$!; \
	$(BIN)/npmatrix base build --matrix bookworm --log-dir $(OUT)/logs & bookworm=$$!; \
	wait $$default && wait $$bookworm

# NPMATRIX_REQUIRE_INTEGRATION makes the suite fail if no integration test ran: they must never skip.
integration: venv engine bases test-tools
	NPMATRIX_REQUIRE_INTEGRATION=1 $(BIN)/pytest tests/integration -v

test: lint venv engine bases test-tools
	NPMATRIX_REQUIRE_INTEGRATION=1 $(BIN)/pytest tests -v --durations=10

clean:
	rm -rf $(OUT) .pytest_cache .mypy_cache .ruff_cache
