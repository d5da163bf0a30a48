# convoy — two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/convoy
PKGS  := ./...

.PHONY: run test build vet gotest bench fuzz clean setup

build:
	$(GO) build -o $(BIN) ./ci

setup:
	scripts/setup.sh core

# The main job on the embedded defaults: local engine, OCI layout store, throwaway databases.
run: setup build
	$(BIN) run

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

gotest:
	CONVOY_TEST_CACHE=$(CURDIR)/.convoy/cache $(GO) test -count=1 -timeout 20m $(PKGS)

test: setup build vet gotest
	$(BIN) run

bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x $(PKGS)

fuzz:
	$(GO) test ./pipeline/config -run '^$$' -fuzz FuzzParse -fuzztime 60s

clean:
	rm -rf bin .convoy
