# npmatrix: two commands on a fresh machine.
#   make matrix   stand up the engine if none runs, build what is missing, run the default matrix
#   make test     lint, type-check, unit tests, and integration tests against the real engine
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= results
MATRIX ?= matrix/default.toml

.PHONY: matrix gallery test engine venv lint unit integration doctor clean mutation

$(BIN)/npmatrix: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

venv: $(BIN)/npmatrix

# Never touches an engine that already answers; as root on Debian/Ubuntu it installs and starts one.
engine:
	scripts/engine-up

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

# NPMATRIX_REQUIRE_INTEGRATION makes the suite fail if no integration test ran: they must never skip.
integration: venv engine
	NPMATRIX_REQUIRE_INTEGRATION=1 $(BIN)/pytest tests/integration -v

test: lint venv engine
	NPMATRIX_REQUIRE_INTEGRATION=1 $(BIN)/pytest tests -v --durations=10

# Mutation testing (not in CI: about an hour on two cores): mutmut over classify, matrix, validators and the
# benchmark, configured in pyproject.toml [tool.mutmut]; docs/mutation.md has the last kill rate and survivors.
mutation: venv
	$(BIN)/pip install --quiet 'mutmut>=3.3'
	rm -rf mutants
	$(BIN)/mutmut run --max-children 2 || true
	$(BIN)/mutmut results

clean:
	rm -rf $(OUT) .pytest_cache .mypy_cache .ruff_cache
