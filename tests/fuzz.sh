#!/usr/bin/env bash
# Builds every cargo-fuzz target in fuzz/ once and runs each for a short
# time (FUZZ_SECONDS, 20 by default) from its seed corpus, as many at once
# as there are cores (FUZZ_JOBS). Fails on any crash, panic, leak, timeout
# (-timeout=10) or out-of-memory (-rss_limit_mb=2048); the input that did
# it is left in fuzz/artifacts/TARGET/.
#
# Installs cargo-fuzz when it is missing. Uses the nightly toolchain when
# rustup has one, else the default (stable) toolchain with RUSTC_BOOTSTRAP=1
# for the sanitizer flags; FUZZ_TOOLCHAIN names another.
# Built with -O: release without debug assertions, as shipped; a
# dependency's debug_assert! (mail-parser's, fuzz/README.md) is not a finding.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${FUZZ_SECONDS:-20}
jobs=${FUZZ_JOBS:-$(nproc)}

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

tc=()
if [ -n "${FUZZ_TOOLCHAIN:-}" ]; then
  tc=("+$FUZZ_TOOLCHAIN")
elif command -v rustup >/dev/null && rustup toolchain list | grep -q '^nightly'; then
  tc=(+nightly)
fi
case "${tc[*]}" in
  +nightly*) ;;
  *) export RUSTC_BOOTSTRAP=1 ;;
esac
echo "tests/fuzz.sh: $(rustc "${tc[@]}" --version)${RUSTC_BOOTSTRAP:+ (RUSTC_BOOTSTRAP=1)}"

started=$(date +%s)
cargo "${tc[@]}" fuzz build -O
built=$(date +%s)
echo "tests/fuzz.sh: built in $((built - started)) s"

targets=$(cargo "${tc[@]}" fuzz list)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# Runs one target; new inputs go to the scratch folder, the committed seeds
# are only read.
run() {
  local t=$1 dict=()
  [ -f "dict/$t.dict" ] && dict=("-dict=dict/$t.dict")
  mkdir -p "$scratch/$t" "corpus/$t"
  if cargo "${tc[@]}" fuzz run -O "$t" "$scratch/$t" "corpus/$t" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "${dict[@]}" >"$scratch/$t.log" 2>&1; then
    local last execs
    last=$(grep -E '^#[0-9]+' "$scratch/$t.log" | tail -n 1 | sed 's/ *exec\/s.*//')
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/$t.log")
    echo "tests/fuzz.sh: $t ok: $execs runs; $last"
  else
    echo "tests/fuzz.sh: $t FAILED; the end of its log:" >&2
    tail -n 60 "$scratch/$t.log" >&2
    return 1
  fi
}

failed=0
running=0
for t in $targets; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n || failed=1
    running=$((running - 1))
  fi
  run "$t" &
  running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
  wait -n || failed=1
  running=$((running - 1))
done
echo "tests/fuzz.sh: $(echo $targets | wc -w) targets, $secs s each, in $(($(date +%s) - started)) s"
exit "$failed"
