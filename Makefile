# pe-plan: `make test` and `make demo` set up everything on a fresh Debian machine.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
APT_PACKAGES := frr user-mode-linux kmod tcpdump iproute2 iputils-ping curl
SEED := examples/layer2

.PHONY: test demo lab lint typecheck system-deps venv schemas bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# Debian packages the integration and lab tests need; installed only when missing, as root.
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "Missing Debian packages:$$missing (run as root on Debian to install them)"; fi; \
	fi

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

test: venv system-deps lint typecheck
	$(BIN)/pytest -ra

# The seed's Layer 2 scenario in User-Mode Linux: pe-plan builds both routers, pods talk.
demo: venv system-deps
	$(BIN)/python -m tests.lab demo

lab: venv system-deps
	$(BIN)/pytest -m lab -ra tests/lab

# Not part of `make test`: timings need a quiet machine. Root only (throwaway namespaces).
bench: venv system-deps
	$(BIN)/python -m bench.run $(BENCH_ARGS)

schemas: venv
	$(BIN)/python -m pe_plan.schema schemas

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
