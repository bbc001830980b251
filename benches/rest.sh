#!/usr/bin/env bash
# REST API latency and throughput: the release `mugai serve` (worker
# processes and all) on loopback, N sequential then N concurrent
# `POST /v1/sanitize` of small files (a CSV with a formula, a small PDF
# with JavaScript, a clean text file, in turn), each over a kept-alive
# connection from a small Python client. Prints p50/p99 latency and
# requests/s for each run.
#
#   benches/rest.sh [-n N] [-c CONCURRENCY] [--workers W]
set -euo pipefail
cd "$(dirname "$0")/.."
n=200; conc=4; workers=0
while [ $# -gt 0 ]; do
  case "$1" in
    -n) n=$2; shift ;;
    -c) conc=$2; shift ;;
    --workers) workers=$2; shift ;;
    *) echo "usage: $0 [-n N] [-c CONCURRENCY] [--workers W]" >&2; exit 2 ;;
  esac
  shift
done
command -v python3 >/dev/null || { echo "python3 is missing" >&2; exit 2; }
cargo build -q --release -p mugai -p mugai-corpus
bin=target/release/mugai
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# Small inputs: two from the generated corpus, one plain text.
target/release/mugai-corpus "$work/corpus" >/dev/null
mkdir -p "$work/in"
cp "$work/corpus/text/formula.csv" "$work/in/formula.csv"
cp "$work/corpus/pdf/open_action_js.pdf" "$work/in/open_action_js.pdf"
printf '議事録\n本日の議題は予算です。\n' > "$work/in/memo.txt"

token=bench-token
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/mugai.toml" <<TOML
[serve]
listen = "127.0.0.1:$port"
results = "$work/results"
tokens = [ $(printf %s "$token" | "$bin" serve --hash-token bench) ]
TOML
"$bin" serve --workers "$workers" --config "$work/mugai.toml" 2> "$work/serve.log" &
pid=$!
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null && break
  sleep 0.1
done

python3 - "$port" "$token" "$n" "$conc" "$work/in" <<'PY'
import http.client, os, sys, threading, time
port, token, n, conc, indir = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
files = [(f, open(os.path.join(indir, f), "rb").read()) for f in sorted(os.listdir(indir))]

def worker(count, offset, out, errors):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for i in range(count):
        name, body = files[(offset + i) % len(files)]
        t = time.perf_counter()
        c.request("POST", "/v1/sanitize?name=" + name, body,
                  {"Authorization": "Bearer " + token, "Content-Type": "application/octet-stream"})
        r = c.getresponse()
        r.read()
        out.append(time.perf_counter() - t)
        if r.status != 200:
            errors.append((name, r.status))
    c.close()

def run(label, threads):
    out, errors, ts = [], [], []
    per = n // threads
    start = time.perf_counter()
    for k in range(threads):
        t = threading.Thread(target=worker, args=(per, k, out, errors))
        t.start(); ts.append(t)
    for t in ts:
        t.join()
    wall = time.perf_counter() - start
    out.sort()
    q = lambda p: out[min(len(out) - 1, int(p * len(out)))] * 1000
    print(f"{label:<14} requests {len(out):>5}  p50 {q(0.50):7.1f} ms  p99 {q(0.99):7.1f} ms  "
          f"{len(out) / wall:7.1f} req/s  errors {len(errors)}")
    if errors:
        print("  first errors:", errors[:5])

worker(min(10, n), 0, [], [])  # warm-up: workers started, caches filled
run("sequential", 1)
run(f"concurrent x{conc}", conc)
PY
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
