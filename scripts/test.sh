#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests, a build of the fuzz
# targets when a nightly toolchain is there, then the external SCIM conformance suites against
# the release binary and a one-minute soak under injected faults (scripts/soak.sh, SQLite); the
# bridge's tests and the suites run twice, on SQLite and on a throwaway PostgreSQL
# (scripts/postgres.sh). Needs cargo; installs
# (scripts/prerequisites.sh, scripts/postgres.sh) what else is missing: curl, python3-venv,
# libpq-dev, Debian's chromium and chromium-driver, and the postgresql server.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/prerequisites.sh
echo "== cargo fmt --check"; cargo fmt --all -- --check
echo "== cargo clippy"; cargo clippy --workspace --all-targets --locked -- -D warnings
bin="${CARGO_TARGET_DIR:-target}/release/scim-bridge"
echo "== cargo test (SQLite)"; cargo test --workspace --locked
# The fuzz targets (fuzz/, docs/fuzzing.md) need nightly: built here so that they keep
# compiling, with plain cargo (no cargo-fuzz to install, no sanitizer: it only checks they
# build); `scripts/fuzz.sh` runs them.
if cargo +nightly --version >/dev/null 2>&1; then
    echo "== fuzz targets build (nightly)"
    CARGO_PROFILE_DEV_DEBUG=0 cargo +nightly build --locked --manifest-path fuzz/Cargo.toml --bins
else
    echo "== fuzz targets build SKIPPED: no nightly toolchain (rustup toolchain install nightly)"
fi
echo "== cargo build --release"; cargo build --release --workspace --locked
echo "== conformance (SQLite)"; scripts/conformance.sh "$bin"
echo "== soak (1 minute, SQLite; docs/soak.md)"; scripts/soak.sh --minutes 1

pg_port="${PG_TEST_PORT:-55432}"
echo "== PostgreSQL on 127.0.0.1:$pg_port"
trap 'scripts/postgres.sh stop "$pg_port"' EXIT
pg_url=$(scripts/postgres.sh start "$pg_port")
echo "== cargo test (PostgreSQL)"; TEST_POSTGRES_URL="$pg_url" cargo test -p scim-bridge --locked
echo "== conformance (PostgreSQL)"; scripts/conformance.sh "$bin" "$pg_url"
