#!/usr/bin/env bash
# ICAP throughput: c-icap-stretch (Debian package c-icap) sends RESPMOD
# requests to the release `mugai icap` (real worker processes) and this
# prints requests/s. The files are a small text file, a PDF with
# JavaScript and a docx from the generated corpus, sent in turn.
# Published anchor: OPSWAT's ICAP layer, 98 requests/s on 2 cores.
# c-icap-stretch pauses 0.5 s between the requests of one connection (and
# 1 s after closing one), so one thread sends under 2 requests/s: many
# threads are needed to load the server.
#
#   benches/icap.sh [--requests N] [--threads N]
set -euo pipefail
cd "$(dirname "$0")/.."
requests=1000; threads=100
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) requests=$2; shift ;;
    --threads) threads=$2; shift ;;
    *) echo "usage: $0 [--requests N] [--threads N]" >&2; exit 2 ;;
  esac
  shift
done
command -v c-icap-stretch >/dev/null || { echo "c-icap-stretch is missing (apt-get install c-icap)" >&2; exit 2; }
cargo build -q --release -p mugai -p mugai-corpus
bin=target/release/mugai
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
target/release/mugai-corpus "$work/corpus" >/dev/null
files=()
for f in text/utf8.txt pdf/open_action_js.pdf office/clean.docx; do
  [ -f "$work/corpus/$f" ] && files+=("$work/corpus/$f")
done
[ ${#files[@]} -gt 0 ] || files=("$(find "$work/corpus" -name '*.pdf' | head -1)")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf '[icap]\nmax_connections = 512\n' >"$work/mugai.toml"
"$bin" icap --config "$work/mugai.toml" --listen "127.0.0.1:$port" --audit "$work/audit" 2>"$work/icap.log" &
pid=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
t0=$(date +%s.%N)
c-icap-stretch -i 127.0.0.1 -p "$port" -s mugai -m "$requests" -t "$threads" \
  -bU http://bench.example/files "${files[@]}" >"$work/stretch.out" 2>&1 || true
t1=$(date +%s.%N)
done_n=$(cat "$work"/audit/*.jsonl 2>/dev/null | grep -c '"result"' || true)
# CPU used by the server and its worker processes (reaped children), from
# /proc: the machine may be shared, so this is the load-independent figure.
read -r ut st cut cst < <(awk '{print $14, $15, $16, $17}' "/proc/$pid/stat")
tck=$(getconf CLK_TCK)
echo "files: $(for f in "${files[@]}"; do printf '%s (%s B) ' "${f#"$work"/corpus/}" "$(stat -c %s "$f")"; done)"
echo "c-icap-stretch: $requests requests, $threads threads, $(nproc) cores, load average $(cut -d' ' -f1 /proc/loadavg)"
grep -E 'Requests (served|failed|soft failed)' "$work/stretch.out" | tail -n 3 | sed 's/^[[:space:]]*/  /'
echo "$done_n $t0 $t1 $ut $st $cut $cst $tck $(nproc)" | awk '{d=$3-$2; cpu=($4+$5+$6+$7)/$8;
  printf "audited decisions: %d in %.2fs = %.1f requests/s\n", $1, d, $1/d;
  printf "CPU of the server and its reaped workers: %.2fs = %.1f ms per request (a lower bound)\n", cpu, 1000*cpu/$1}'
echo "anchor: OPSWAT MetaDefender ICAP, 98 requests/s on 2 cores"
