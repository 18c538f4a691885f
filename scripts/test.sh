#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests, then the external SCIM
# conformance suites against the release binary. Needs cargo; installs (scripts/prerequisites.sh)
# what else is missing: curl, python3-venv, Debian's chromium and chromium-driver.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/prerequisites.sh
echo "== cargo fmt --check"; cargo fmt --all -- --check
echo "== cargo clippy"; cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"; cargo test --workspace --locked
echo "== cargo build --release"; cargo build --release --workspace --locked
echo "== conformance"; scripts/conformance.sh "${CARGO_TARGET_DIR:-target}/release/scim-bridge"
