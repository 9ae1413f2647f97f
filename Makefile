# cht-dhis2-mediator — run "make" or "make help" for the targets.

GO        ?= go
VERSION   ?= 0.2.0
LDFLAGS   := -X main.version=$(VERSION)
BIN       := bin/mediator
FUZZTIME  ?= 30s
NPM_STAMP := test/node_modules/.npm-ci.stamp

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## build bin/mediator
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./mediator

.PHONY: deps
deps: $(NPM_STAMP) ## download Go modules and install the CouchDB-compatible test server (npm ci in test/)
	$(GO) mod download

$(NPM_STAMP): test/package.json test/package-lock.json
	cd test && npm ci --no-audit --no-fund
	touch $@

.PHONY: test
test: deps ## run every test (unit, fuzz seeds, end to end) with the race detector
	@$(CHROMIUM_CHECK) || echo "test: TestBoard_browser (the month board in headless Chromium) SKIPPED: no Chromium installed (apt-get install chromium, or set CHROMIUM_PATH)"
	$(GO) test -race -shuffle=on -count=1 -timeout 14m ./...

# Whether the month board's browser test can run: the same lookup as
# test/board_test.go (CHROMIUM_PATH, then chromium, chromium-browser,
# google-chrome on PATH).
CHROMIUM_CHECK := { [ -n "$$CHROMIUM_PATH" ] || command -v chromium || command -v chromium-browser || command -v google-chrome || command -v google-chrome-stable; } >/dev/null 2>&1

.PHONY: test-unit
test-unit: ## run the fast unit tests only (skips test/)
	$(GO) test -short -count=1 ./...

.PHONY: cover
cover: deps ## coverage of every package (coverage.out)
	$(GO) test -count=1 -coverprofile=coverage.out ./...
	$(GO) tool cover -func=coverage.out | tail -1

.PHONY: lint
# staticcheck and govulncheck are pinned and built from the Go module proxy
# into bin/tools on first use. govulncheck also needs its vulnerability
# database at vuln.go.dev (or GOVULNDB): when that cannot be reached, lint
# says so and skips it rather than fail on a network it cannot have.
STATICCHECK_VERSION := v0.8.2
GOVULNCHECK_VERSION := v1.1.4
TOOLS := $(CURDIR)/bin/tools
lint: $(TOOLS)/staticcheck-$(STATICCHECK_VERSION) $(TOOLS)/govulncheck-$(GOVULNCHECK_VERSION) ## gofmt, go vet, staticcheck and govulncheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(TOOLS)/staticcheck-$(STATICCHECK_VERSION) ./...
	@log=$$(mktemp); trap 'rm -f $$log' EXIT; \
	if $(TOOLS)/govulncheck-$(GOVULNCHECK_VERSION) ./... >$$log 2>&1; then \
	  tail -n 1 $$log; \
	elif grep -q 'fetching vulnerabilities' $$log; then \
	  echo "lint: govulncheck SKIPPED: its vulnerability database cannot be reached ($$(grep -m1 'fetching vulnerabilities' $$log | cut -c1-160))"; \
	else \
	  cat $$log; exit 1; \
	fi

$(TOOLS)/staticcheck-$(STATICCHECK_VERSION):
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(TOOLS)/staticcheck $@

$(TOOLS)/govulncheck-$(GOVULNCHECK_VERSION):
	GOBIN=$(TOOLS) $(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)
	mv $(TOOLS)/govulncheck $@

.PHONY: fuzz
# A run that fails with "context deadline exceeded" and writes no failing
# input is Go's fuzztime deadline race (golang/go#75804, unfixed in Go
# 1.26): reported and ignored. Any other failure, or a written input, fails.
fuzz: ## run every fuzz target for FUZZTIME each (default 30s)
	@set -e; log=$$(mktemp); trap 'rm -f $$log' EXIT; \
	for pkg in $$($(GO) list ./...); do \
	  targets=$$($(GO) test -short -list '^Fuzz' $$pkg 2>&1) || { echo "$$targets"; echo "fuzz: cannot list the fuzz targets of $$pkg"; exit 1; }; \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for f in $$(echo "$$targets" | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; \
	    before=$$(ls $$dir/testdata/fuzz/$$f 2>/dev/null | wc -l); \
	    if $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg >$$log 2>&1; then \
	      tail -n 2 $$log; \
	    else \
	      cat $$log; \
	      after=$$(ls $$dir/testdata/fuzz/$$f 2>/dev/null | wc -l); \
	      if [ "$$after" = "$$before" ] && grep -q 'context deadline exceeded' $$log; then \
	        echo "fuzz: $$f: no failing input written: Go's fuzztime deadline race (golang/go#75804), ignored"; \
	      else \
	        exit 1; \
	      fi; \
	    fi; \
	  done; \
	done

.PHONY: bench
# The whole `mediator preview` process (bin/mediator) against a CHT-shaped
# CouchDB server in another process, at 10 000 to 200 000 CHWs, side by
# side with CHT Core's own export when a cht-core dir and node are here
# (test/bench). BENCH_FLAGS passes flags: make bench BENCH_FLAGS='-chws 50000 -runs 3'.
bench: $(NPM_STAMP) build ## measure whole previews against CHT Core's export (the only source of performance claims)
	$(GO) run ./test/bench -mediator $(BIN) $(BENCH_FLAGS)

.PHONY: bench-go
bench-go: ## run the Go micro-benchmarks (decoders, aggregation core)
	$(GO) test -run '^$$' -bench . -benchmem ./...

.PHONY: demo
demo: $(NPM_STAMP) build ## run the whole stack and export last month through the OpenHIM channel into the DHIS2 sandbox
	$(GO) run ./test/demo --mediator $(BIN)

.PHONY: sandbox
sandbox: $(NPM_STAMP) build ## start the seeded CHT server, DHIS2 and OpenHIM sandboxes for trying bin/mediator by hand (Ctrl-C stops)
	$(GO) run ./test/demo --sandbox --mediator $(BIN)

.PHONY: clean
clean: ## remove build and test output
	rm -rf bin coverage.out test/node_modules
