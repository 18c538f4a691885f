#!/usr/bin/env bash
# Run every cargo-fuzz target in fuzz/ for SECONDS_PER_TARGET seconds (default 300), one after
# the other, and say per target how many inputs it ran and whether it found a crash
# (docs/fuzzing.md). Needs a nightly toolchain; installs cargo-fuzz when it is missing.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]
#   FUZZ_TARGETS="filter patch" scripts/fuzz.sh 60     # only these targets
#
# Each target starts from its committed seeds (fuzz/corpus/<target>, never written to) plus
# what earlier runs on this machine found (fuzz/target/corpus/<target>, where new inputs go).
# A crash is saved by libFuzzer under fuzz/artifacts/<target>/; the script exits 1 if any
# target crashed. Reproduce one with `cargo +nightly fuzz run <target> <file>`; once fixed, add
# the file to fuzz/corpus/<target>/ so every later run tries it first.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-300}"
case "$secs" in '' | *[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET]" >&2; exit 2 ;; esac

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzzing needs a nightly toolchain: rustup toolchain install nightly" >&2
    exit 2
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

targets="${FUZZ_TARGETS:-$(cargo +nightly fuzz list)}"
echo "== building the fuzz targets"
cargo +nightly fuzz build

logs=fuzz/target/logs
mkdir -p "$logs"
summary=()
failed=0
for t in $targets; do
    mkdir -p "fuzz/target/corpus/$t" "fuzz/corpus/$t"
    log="$logs/$t.log"
    echo "== $t for ${secs}s (log: $log)"
    status=0
    started=$SECONDS
    # -timeout: one input taking over 10 s is a finding too (quadratic parsing and the like).
    cargo +nightly fuzz run "$t" "fuzz/target/corpus/$t" "fuzz/corpus/$t" -- \
        -max_total_time="$secs" -timeout=10 -print_final_stats=1 >"$log" 2>&1 || status=$?
    took=$((SECONDS - started))
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    corpus=$(find "fuzz/target/corpus/$t" -type f | wc -l | tr -d ' ')
    if [ "$status" -eq 0 ]; then
        result="no crash"
    else
        failed=1
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
        result="CRASH (exit $status): ${artifact:-see $log}"
        grep -m 5 -E "panicked at|ERROR: libFuzzer|SUMMARY" "$log" | sed 's/^/    /' || true
    fi
    line=$(printf '%-12s %6ss  %12s runs  %5s inputs in fuzz/target/corpus  %s' "$t" "$took" "${runs:-?}" "$corpus" "$result")
    echo "$line"
    summary+=("$line")
done

echo "== summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
