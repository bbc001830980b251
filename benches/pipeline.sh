#!/usr/bin/env bash
# Whole-pipeline run: the release `mugai sanitize` (worker processes and
# all) over the generated corpus and the external corpus, reporting files/s
# and MB/s; with --clamd, the same run again with a real clamd scanning the
# original and the output, for the cost of the malware check.
#
#   benches/pipeline.sh [--clamd] [--rounds N]
set -euo pipefail
cd "$(dirname "$0")/.."
clamd=0; rounds=3
while [ $# -gt 0 ]; do
  case "$1" in
    --clamd) clamd=1 ;;
    --rounds) rounds=$2; shift ;;
    *) echo "usage: $0 [--clamd] [--rounds N]" >&2; exit 2 ;;
  esac
  shift
done
cargo build -q --release -p mugai -p mugai-corpus
bin=target/release/mugai
work=$(mktemp -d); trap 'kill $(cat "$work/clamd.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT
target/release/mugai-corpus "$work/corpus" >/dev/null
sets=("$work/corpus")
ext=${MUGAI_CORPUS_EXT:-../shared/corpus-ext}
[ -d "$ext" ] && sets+=("$ext")

run() { # label dir extra-args...
  local label=$1 dir=$2; shift 2
  local files bytes best=999999
  files=$(find "$dir" -type f | wc -l)
  bytes=$(find "$dir" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
  for _ in $(seq "$rounds"); do
    rm -rf "$work/out"
    local t0 t1
    t0=$(date +%s.%N)
    "$bin" sanitize --json --out "$work/out" "$@" "$dir" >/dev/null 2>&1 || true
    t1=$(date +%s.%N)
    best=$(echo "$t1 $t0 $best" | awk '{d=$1-$2; print (d<$3)?d:$3}')
  done
  echo "$label $(basename "$dir"): $files files, $bytes bytes, best of $rounds: ${best}s," \
    "$(echo "$files $best" | awk '{printf "%.1f files/s", $1/$2}')," \
    "$(echo "$bytes $best" | awk '{printf "%.2f MB/s", $1/$2/1e6}')"
}

for s in "${sets[@]}"; do run "no-av " "$s"; done

if [ "$clamd" = 1 ]; then
  mkdir -p "$work/db" "$work/tmp"
  printf 'Mugai.Test.Pattern:0:*:%s\n' "$(printf 'MUGAI-AV-TEST-PATTERN-7f3a9c' | od -An -tx1 | tr -d ' \n')" > "$work/db/test.ndb"
  cat > "$work/clamd.conf" <<CONF
LocalSocket $work/clamd.sock
DatabaseDirectory $work/db
Foreground yes
TemporaryDirectory $work/tmp
PidFile $work/clamd.pid
MaxThreads 4
CONF
  /usr/sbin/clamd --config-file "$work/clamd.conf" >/dev/null 2>&1 &
  echo $! > "$work/clamd.pid"
  for _ in $(seq 100); do [ -S "$work/clamd.sock" ] && break; sleep 0.2; done
  for s in "${sets[@]}"; do run "clamd " "$s" --clamd "$work/clamd.sock"; done
fi
