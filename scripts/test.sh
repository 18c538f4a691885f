#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests, then the external SCIM
# conformance suites against the release binary. Needs cargo, python3 (>= 3.11, with venv) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== cargo fmt --check"; cargo fmt --all -- --check
echo "== cargo clippy"; cargo clippy --all-targets --locked -- -D warnings
echo "== cargo test"; cargo test --locked
echo "== cargo build --release"; cargo build --release --locked
echo "== conformance"; scripts/conformance.sh target/release/scim-bridge
