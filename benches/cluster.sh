#!/usr/bin/env bash
# Cluster throughput: files/s through `mugai cluster submit` with 1, 2 and 3
# `mugai cluster worker` nodes on this machine, over the same generated
# file set (text, CSV with formulas, PDF with JavaScript, an executable),
# against one local nats-server with JetStream. End to end: upload into the
# object store, queue, rebuild, placement, audit, result, acknowledgement.
#
#   benches/cluster.sh [--debug] [--files N] [--pool N]
#
# Each node runs a pool of --pool worker processes (default 1), so the
# nodes, not the pool, are what is scaled. On one machine the nodes share
# its cores: the figure shows the overhead of the cluster path and how it
# scales until the cores are busy, not what separate machines would give.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=release; files=300; pool=1
while [ $# -gt 0 ]; do
  case "$1" in
    --debug) profile=debug ;;
    --files) files=$2; shift ;;
    --pool) pool=$2; shift ;;
    *) echo "usage: $0 [--debug] [--files N] [--pool N]" >&2; exit 2 ;;
  esac
  shift
done
nats=$(command -v nats-server || echo /usr/sbin/nats-server)
[ -x "$nats" ] || { echo "nats-server is missing (apt-get install nats-server)" >&2; exit 2; }
if [ "$profile" = release ]; then
  cargo build -q --release -p mugai
else
  cargo build -q -p mugai
fi
bin=$PWD/target/$profile/mugai
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

python3 - "$work/in" "$files" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d)
def pdf():
    objs = [b"<< /Type /Catalog /Pages 2 0 R /OpenAction 5 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
            None,
            b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>"]
    content = b"BT /F1 12 Tf 72 720 Td (hello) Tj ET"
    objs[3] = b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream"
    out = bytearray(b"%PDF-1.4\n")
    offs = []
    for i, o in enumerate(objs, 1):
        offs.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    x = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for o in offs:
        out += b"%010d 00000 n \n" % o
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, x)
    return bytes(out)
p = pdf()
exe = b"MZ" + b"\x90\x00" * 30 + b"\x40\x00\x00\x00" + b"\x00" * 64 + b"PE\x00\x00"
for i in range(n):
    k = i % 4
    if k == 0: open(f"{d}/note{i:04}.txt", "wb").write(f"議事録 {i}\nline two\n".encode())
    elif k == 1: open(f"{d}/list{i:04}.csv", "wb").write(f"name,value\n=1+{i},{i}\n".encode())
    elif k == 2: open(f"{d}/form{i:04}.pdf", "wb").write(p)
    else: open(f"{d}/tool{i:04}.exe", "wb").write(exe)
PY

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo "cluster bench: $files files, $profile build, pool of $pool per node, $(nproc) cores"
for n in 1 2 3; do
  run=$work/run$n
  mkdir -p "$run"
  "$nats" -a 127.0.0.1 -p "$port" -js -sd "$run/store" >"$run/nats.log" 2>&1 &
  npid=$!; pids+=("$npid")
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  wpids=()
  for w in $(seq "$n"); do
    "$bin" cluster worker --nats "nats://127.0.0.1:$port" --clean "$run/clean" \
      --quarantine "$run/q" --audit "$run/audit/w$w" --node "w$w" --workers "$pool" \
      2>"$run/w$w.log" &
    wpids+=($!); pids+=($!)
  done
  for w in $(seq "$n"); do
    for _ in $(seq 200); do grep -q "cluster worker ready" "$run/w$w.log" && break; sleep 0.1; done
  done
  start=$(date +%s.%N)
  set +e
  "$bin" cluster submit --nats "nats://127.0.0.1:$port" --submitter "bench$n" "$work/in" >"$run/out.jsonl" 2>"$run/submit.err"
  rc=$?
  set -e
  end=$(date +%s.%N)
  lines=$(wc -l <"$run/out.jsonl")
  python3 -c "import sys; n,l,s,e,rc=sys.argv[1:]; print(f'{n} worker(s): {l} files in {float(e)-float(s):.2f} s = {int(l)/(float(e)-float(s)):.1f} files/s (exit {rc})')" "$n" "$lines" "$start" "$end" "$rc"
  for p in "${wpids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  kill "$npid" 2>/dev/null || true; wait "$npid" 2>/dev/null || true
done
