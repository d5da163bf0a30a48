# convoy — two commands on a fresh machine: `make run` and `make test`.
# Both install what they need (Debian packages via scripts/setup.sh, the offline base image via
# scripts/base-image.sh, kept outside the clone in $(BASE_DIR) so reruns reuse it).
SHELL    := /bin/bash
GO       ?= go
BIN      := bin/convoy
PKGS     := ./...
BASE_DIR ?= /var/cache/convoy/base
export CONVOY_BASE_DIR := $(BASE_DIR)

.PHONY: run test build setup base postgres-image vet gotest libtest e2e faults bench fuzz clean

build:
	$(GO) build -o $(BIN) ./ci

# System packages: git/python (core), debootstrap (base image), postgresql + runc (integration),
# docker.io (images proven to run), docker-registry + skopeo (release end-to-end).
setup:
	scripts/setup.sh core images integration $(if $(filter test,$(MAKECMDGOALS)),docker release)

# The offline Python base image every service image starts from (no registry needed).
base: setup
	scripts/base-image.sh $(BASE_DIR) python

# The offline PostgreSQL server image --engine dagger's integration can run from
# (integration.postgres_image: "oci-layout:/var/cache/convoy/postgres:postgres"). A few minutes
# and a Debian mirror: not part of `make test` (no Dagger engine runs here).
postgres-image: setup
	scripts/postgres-image.sh /var/cache/convoy/postgres postgres

# The main job on the embedded defaults: local engine, OCI layout store (.convoy/oci),
# throwaway Postgres databases.
run: setup base build
	$(BIN) run

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

# Every Go test: real processes, real PostgreSQL, in-memory registries, the four services'
# gates and images. Virtualenvs are cached in .convoy/cache and shared with the runs below.
gotest:
	CONVOY_TEST_CACHE=$(CURDIR)/.convoy/cache $(GO) test -count=1 -timeout 25m $(PKGS)

# The shared libraries are not services (no image), so convoy does not gate them: their own
# tests and flake8 run here, in a virtualenv of their own.
LIBVENV := .convoy/cache/libs-venv
libtest:
	test -x $(LIBVENV)/bin/python || python3.11 -m venv $(LIBVENV)
	for lib in libs/*/; do \
	  $(LIBVENV)/bin/python -m pip install -q -r $$lib/requirements-dev.txt && \
	  (cd $$lib && JWT_SECRET=dev-only-jwt-secret-at-least-32-bytes-long PYTHONPATH=. \
	    ../../$(LIBVENV)/bin/python -m pytest -q -p no:cacheprovider tests && ../../$(LIBVENV)/bin/python -m flake8) || exit 1; \
	done

# End-to-end against real daemons this machine starts: dockerd (every image runs and answers
# its health check) and docker-registry (a release of the four services).
e2e:
	scripts/docker-e2e.sh
	scripts/registry.sh e2e

# kill -9 scenarios end to end (scripts/faults.sh): nothing convoy started outlives it, and the
# next run removes what a killed run left. About 40 seconds.
faults:
	CONVOY_TEST_CACHE=$(CURDIR)/.convoy/cache scripts/faults.sh

test: setup base build vet gotest libtest e2e faults
	$(BIN) run

# Go benchmarks, then the scheduler's: wall time against the ideal makespan, each with its
# baseline (FIFO order, -j 1) measured in the same run (scripts/bench.sh); then the toolchain's:
# cold gates against a sequential pip/pipenv script (scripts/baseline-gates.sh), a cold
# `convoy run`, the image stage of unchanged dependencies (scripts/bench-toolchain.sh).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x $(PKGS)
	scripts/bench.sh
	scripts/bench-toolchain.sh

fuzz:
	$(GO) test ./pipeline/config -run '^$$' -fuzz FuzzParse -fuzztime 60s

clean:
	rm -rf bin .convoy
