# npmatrix: two commands on a fresh machine.
#   make matrix   stand up the engine if none runs, build what is missing, run the default matrix
#   make test     lint, type-check, the manual (mkdocs --strict), unit tests, and integration tests against the real engine
# and one for CI: make nightly (see below).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= results
MATRIX ?= matrix/default.toml

# The nightly pipeline: NIGHTLY_SHARDS shards of NIGHTLY_MATRIX (one after another here; one job each in
# .github/workflows/nightly.yml, which calls these same targets), merged, reported, diffed against the
# latest night kept in HISTORY_DIR and kept there. Fails on a regression or a cell not as expected.
NIGHTLY_MATRIX ?= $(MATRIX)
NIGHTLY_DIR    ?= nightly
HISTORY_DIR    ?= $(NIGHTLY_DIR)/history
NIGHTLY_SHARDS ?= 1
SHARD          ?= 1/1
NIGHTLY_PERF_THRESHOLD ?= 10

.PHONY: matrix gallery test engine engines bases test-tools venv lint docs unit integration doctor clean mutation bench
.PHONY: nightly nightly-shard nightly-merge nightly-report nightly-gate

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

# The other engines the tests use (tests/integration/test_scale_out.py): Podman's Docker-compatible socket, and a
# second dockerd on its own socket standing in for a remote engine. Both idempotent; the tests copy the base
# images they need into them from the main engine.
engines: engine
	scripts/podman-up
	scripts/remote-engine-up

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
	$(BIN)/lint-imports --no-logo

# The manual (mkdocs.yml, docs/) into site/ (gitignored): --strict fails on a broken link, a missing anchor or a
# page the nav names that does not exist. NO_MKDOCS_2_WARNING silences mkdocs-material's banner about its future.
docs: venv
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

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
integration: venv engine engines bases test-tools
	NPMATRIX_REQUIRE_INTEGRATION=1 $(BIN)/pytest tests/integration -v

test: lint docs venv engine engines bases test-tools
	NPMATRIX_REQUIRE_INTEGRATION=1 $(BIN)/pytest tests -v --durations=10

nightly: venv engine
	rm -rf $(NIGHTLY_DIR)/shards
	for i in $$(seq 1 $(NIGHTLY_SHARDS)); do \
	  $(MAKE) --no-print-directory nightly-shard SHARD=$$i/$(NIGHTLY_SHARDS) || exit $$?; \
	done
	$(MAKE) --no-print-directory nightly-merge nightly-report nightly-gate

# One shard into NIGHTLY_DIR/shards/shard-I-of-N. Exit 1 (a cell not as expected) does not stop the night:
# the gate decides once every shard is in. The history only balances the shards here; it is not changed.
nightly-shard: venv engine
	rc=0; $(BIN)/npmatrix run --matrix $(NIGHTLY_MATRIX) --shard $(SHARD) --history $(HISTORY_DIR) \
	  --out $(NIGHTLY_DIR)/shards/shard-$(subst /,-of-,$(SHARD)) || rc=$$?; \
	[ $$rc -le 1 ] || exit $$rc

# Every cell of NIGHTLY_MATRIX must be in some shard: a lost shard fails here, not silently later.
nightly-merge: venv
	$(BIN)/npmatrix merge $(NIGHTLY_DIR)/shards/*/results.json --matrix $(NIGHTLY_MATRIX) \
	  --out $(NIGHTLY_DIR)/results.json

# HTML (with the kept nights' timeline and trend), Markdown and JUnit XML of the merged night. On GitHub the
# Markdown report also lands in the job summary ($GITHUB_STEP_SUMMARY).
nightly-report: venv
	mkdir -p $(HISTORY_DIR)
	$(BIN)/npmatrix report $(NIGHTLY_DIR)/results.json --format html --history $(HISTORY_DIR) \
	  --out $(NIGHTLY_DIR)/report.html
	$(BIN)/npmatrix report $(NIGHTLY_DIR)/results.json --format md --out $(NIGHTLY_DIR)/report.md
	$(BIN)/npmatrix report $(NIGHTLY_DIR)/results.json --format junit --out $(NIGHTLY_DIR)/junit.xml

# Diff against the latest kept night of the same matrix, keep this night, then fail if the gate failed.
# diff exits 1 on a regression or a cell not as expected, 2 on bad input (then nothing is kept); an empty
# history is refused unless --first-night, which the target passes only while no night is kept there.
nightly-gate: venv
	mkdir -p $(HISTORY_DIR)
	@first=$$(ls $(HISTORY_DIR) | grep -qE '^[0-9]{8}T[0-9]{6}Z(-[1-9][0-9]*)?\.json$$' || echo --first-night); \
	rc=0; $(BIN)/npmatrix diff $(HISTORY_DIR) $(NIGHTLY_DIR)/results.json --fail-on-unexpected $$first \
	  --perf-threshold $(NIGHTLY_PERF_THRESHOLD) >$(NIGHTLY_DIR)/diff.txt || rc=$$?; \
	cat $(NIGHTLY_DIR)/diff.txt; \
	[ $$rc -le 1 ] || exit $$rc; \
	$(BIN)/npmatrix diff $(HISTORY_DIR) $(NIGHTLY_DIR)/results.json --fail-on-unexpected $$first \
	  --perf-threshold $(NIGHTLY_PERF_THRESHOLD) --format md >$(NIGHTLY_DIR)/diff.md || [ $$? -le 1 ]; \
	$(BIN)/npmatrix history add $(NIGHTLY_DIR)/results.json $(HISTORY_DIR) || exit $$?; \
	echo "nightly-gate: exit $$rc ($(NIGHTLY_DIR)/diff.txt, diff.md; history: $(HISTORY_DIR))"; \
	exit $$rc

# Issue 10's speed table (benchmarks/speed.py): cold npmatrix vs a naive script, warm reruns, one pin changed,
# container vs host GEMM, emulated probe times, the driver's memory; writes docs/performance.md. About 45 min
# on two shared cores; BENCH_PARTS=warm,memory (etc.) for a part. Never deletes images others use.
BENCH_PARTS ?= cold,warm,pin,gemm,emulated,memory
bench: venv engine
	$(BIN)/python benchmarks/speed.py --parts $(BENCH_PARTS)

# Mutation testing (not in CI: about an hour on two cores): mutmut over classify, matrix, validators and the
# benchmark, configured in pyproject.toml [tool.mutmut]; docs/mutation.md has the last kill rate and survivors.
mutation: venv
	$(BIN)/pip install --quiet 'mutmut>=3.3'
	rm -rf mutants
	$(BIN)/mutmut run --max-children 2 || true
	$(BIN)/mutmut results

clean:
	rm -rf $(OUT) site .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
