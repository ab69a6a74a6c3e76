# Set-up and the two commands of the README's quick start.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint typecheck unit clean bench bench-tuning bench-migration bench-polling secrets certs

install: $(STAMP)

# The runtime dependencies at the image's locked versions (requirements-sim.lock without its hashes: pip takes no
# hashes in a constraints file), so the tests run what the image ships; dev tools resolve freely around them.
$(STAMP): pyproject.toml requirements-sim.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	sed -n 's/^\([A-Za-z0-9._-]*==[^ ;]*\).*/\1/p' requirements-sim.lock > $(VENV)/locked.txt
	$(BIN)/python -m pip install --quiet -c $(VENV)/locked.txt -e '.[dev]'
	touch $(STAMP)

demo: install
	$(BIN)/adeflow demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

test: install lint typecheck
	$(BIN)/pytest -q

# The pure tests only (no servers): seconds. `make test` runs every tier (see README, "Tests").
unit: install
	$(BIN)/pytest -q -m unit

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Fleet-scale benchmarks (issue 9; not part of `make test`): prints a table, writes bench-results.json.
# VMS sizes the rollout-vs-ideal fleet, SCALE the per-VM cost curve (10,000: add it, run it in the background);
# see BENCHMARKS.md. `make bench-tuning` measures worker settings.
VMS ?= 60
SCALE ?= 100,1000
bench: install
	$(BIN)/python -m benchmarks.fleet --vms $(VMS) --scale-sizes $(SCALE)

bench-tuning: install
	$(BIN)/python -m benchmarks.tuning

# Migration off ADE (issue 16): a fleet's disks copied under the simulator's per-disk throughput limit, a worker
# SIGKILLed mid-copy, history length against disk size; prints a table, writes bench-migration.json (about 4 min).
bench-migration: install
	$(BIN)/python -m benchmarks.migration

# Adaptive status polling (issue 18): adeflow and the plain script on one fleet, a fleet of short encryptions,
# 1 h / 24 h histories; writes bench-polling.json (6 minutes here; see BENCHMARKS.md).
bench-polling: install
	$(BIN)/python -m benchmarks.polling

# The compose stack's secrets (docker-compose.yml): secrets/ is 0700, so the files inside may be readable by the
# containers' users, which differ (Compose mounts a secret with its host owner and mode).
secrets: secrets/postgres-password

secrets/postgres-password:
	install -d -m 700 secrets
	umask 077 && $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(32))' > $@
	chmod 644 $@

# mTLS to the bundled Temporal server (deploy/compose.mtls.yml): a private CA and one certificate per caller.
certs:
	sh deploy/mtls/make-certs.sh secrets/tls
