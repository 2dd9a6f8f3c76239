# Latch. `make run` starts a development server; `make test` runs every suite.
SHELL := /bin/bash
CARGO ?= cargo
# The PostgreSQL server `make test` uses when one answers on 127.0.0.1:5432.
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/postgres

.PHONY: run mock-looker mock-oauth test contract clients bench openapi lint fmt

## Start Latch on ./data/latch.db (SQLite) with a generated development master key.
## For the demo it may call plain http on 127.0.0.0/8, where mock-looker listens; set
## LATCH_EGRESS_ALLOW_CIDRS= and LATCH_ALLOW_HTTP_HOSTS=false to close that.
run:
	LATCH_EGRESS_ALLOW_CIDRS="$${LATCH_EGRESS_ALLOW_CIDRS-127.0.0.0/8}" \
	LATCH_ALLOW_HTTP_HOSTS="$${LATCH_ALLOW_HTTP_HOSTS-true}" \
	$(CARGO) run -p latch-api --bin latch -- serve --dev

## A stand-in Looker on http://127.0.0.1:19999 (client id mock-client-id, secret mock-client-secret).
## OAuth client apps are registered at run time by its admin call, as in Looker
## (POST /api/4.0/oauth_client_apps/{client_guid}): see the README's OAuth tour.
mock-looker:
	$(CARGO) run -p latch-tests --bin mock-looker -- --listen 127.0.0.1:19999

## A stand-in OAuth 2.0 authorization server on 127.0.0.1:19998 for the generic `oauth2`
## provider and providers of your own (client `tour-client`, secret `tour-secret`).
mock-oauth:
	$(CARGO) run -p latch-tests --bin mock-oauth -- --listen 127.0.0.1:19998

## Every test, on SQLite and (when a server answers or LATCH_TEST_POSTGRES_URL is set) PostgreSQL,
## then the contract run (`make contract`) and the generated clients (`make clients`). The
## `oidc_provider` tests run panva's oidc-provider (pinned in tests/oidc-provider, installed
## there by npm) on the machine's Node.js; without Node they skip loudly. The webhook tests
## verify every delivery with the Standard Webhooks library (pinned in tests/webhook-verifier,
## installed into .venv/webhooks); without Python they skip loudly.
test:
	@if [ -n "$$LATCH_TEST_POSTGRES_URL" ]; then \
		echo "postgres: tests use LATCH_TEST_POSTGRES_URL"; \
	elif (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then \
		export LATCH_TEST_POSTGRES_URL="$(POSTGRES_URL)"; \
		echo "postgres: tests use $(POSTGRES_URL)"; \
	else \
		skipped=1; \
		echo "!!!!! SKIPPED postgres: no server on 127.0.0.1:5432 and LATCH_TEST_POSTGRES_URL unset !!!!!"; \
	fi; \
	if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		browser_skipped=1; \
		echo "!!!!! SKIPPED browser: install Debian's chromium and chromium-driver for the console suite !!!!!"; \
	fi; \
	status=0; \
	tests/oidc-provider/install || status=1; \
	if [ ! -d tests/oidc-provider/node_modules/oidc-provider ]; then oidc_skipped=1; fi; \
	tests/webhook-verifier/install || status=1; \
	if [ ! -x .venv/webhooks/bin/python ]; then webhooks_skipped=1; fi; \
	$(CARGO) test --workspace || status=1; \
	tests/contract/run || status=1; \
	tests/clients/run || status=1; \
	if [ -n "$$skipped" ]; then \
		echo "!!!!! SKIPPED postgres: only SQLite was tested !!!!!"; \
	fi; \
	if [ -n "$$browser_skipped" ]; then \
		echo "!!!!! SKIPPED browser: the console was not tested in a browser !!!!!"; \
	fi; \
	if [ -n "$$oidc_skipped" ]; then \
		echo "!!!!! SKIPPED oidc-provider: the oauth2 connector was not tested against a certified server !!!!!"; \
	fi; \
	if [ -n "$$webhooks_skipped" ]; then \
		echo "!!!!! SKIPPED webhook-verifier: webhook signatures were not verified by standardwebhooks !!!!!"; \
	fi; \
	exit $$status

## schemathesis (pinned in tests/contract/requirements.txt, in .venv/contract) against a fresh
## server on SQLite with mock-looker, configured by schemathesis.toml; in a loopback-only
## network namespace (root). Skips loudly without Python or root; LATCH_REQUIRE_CONTRACT=1
## (CI) fails instead.
contract:
	tests/contract/run

## openapi-python-client and openapi-typescript (pinned in tests/clients) generate clients from
## openapi/openapi.json: every operation present, `tsc --strict` clean, and the Python client
## drives a live server. Skips loudly without Python or Node; LATCH_REQUIRE_CLIENTS=1 (CI)
## fails instead.
clients:
	tests/clients/run

## Throughput and latency of the token hot path against /healthz, refresh storms on one and
## two replicas, server memory: a Markdown report (docs/benchmarks.md keeps the latest).
bench:
	$(CARGO) build --release -p latch-tests --bins
	@if [ -z "$$LATCH_TEST_POSTGRES_URL" ] && (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then \
		export LATCH_TEST_POSTGRES_URL="$(POSTGRES_URL)"; \
	fi; \
	$(CARGO) run -q --release -p latch-tests --bin latch-bench

## Regenerate the committed OpenAPI document from the code.
openapi:
	$(CARGO) run -q -p latch-api --bin latch -- openapi > openapi/openapi.json.tmp
	mv openapi/openapi.json.tmp openapi/openapi.json

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all
