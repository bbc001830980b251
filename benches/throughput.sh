#!/usr/bin/env bash
# The whole pipeline against the fastest C tools, every ratio from one run:
#
#   large PDFs (2-9 MB, joined from the public corpus with qpdf, and a
#   scanned-photo PDF) and the small public PDFs: mugai / `mutool clean`
#   and mugai / `mutool clean -s -z`;
#   12-megapixel photo (JPEG) and scan (PNG), drawn with ImageMagick:
#   mugai / `vips copy` and mugai / ImageMagick `convert`;
#   600 small text/CSV files: the daemon's files/s against the CLI's;
#   per-file time over the external corpus: p50 and p99 (the daemon's own
#   per-file durations, one file at a time, from its audit log);
#   peak RSS of a worker against its input (the engine run in one process
#   under /usr/bin/time, which is what a worker does);
#   time and memory at 1x, 4x and 16x the input size.
#
#   benches/throughput.sh [--rounds N] [--no-build]
#
# MUGAI_BIN names another binary to measure (an earlier build, for a
# before/after comparison).
# The release build is used. Each tool handles one file per process, so
# all pay process start-up alike; the best of N rounds is reported. The
# load average is printed with the figures: compare runs on a quiet machine.
set -euo pipefail
shopt -u patsub_replacement 2>/dev/null || true
cd "$(dirname "$0")/.."
rounds=3; build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift ;;
    --no-build) build=0 ;;
    *) echo "usage: $0 [--rounds N] [--no-build]" >&2; exit 2 ;;
  esac
  shift
done

need=()
command -v mutool >/dev/null || need+=(mupdf-tools)
command -v qpdf >/dev/null || need+=(qpdf)
command -v convert-im6.q16 >/dev/null || need+=(imagemagick)
command -v vips >/dev/null || need+=(libvips-tools)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "missing ${need[*]}; install them (Debian package names)" >&2
    exit 2
  fi
fi
[ "$build" = 1 ] && cargo build -q --release -p mugai
bin=${MUGAI_BIN:-$PWD/target/release/mugai}
im=/usr/bin/convert-im6.q16
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
ext=${MUGAI_CORPUS_EXT:-../shared/corpus-ext}
[ -d "$ext" ] || ext=/work/shared/corpus-ext
[ -d "$ext" ] || { echo "no external corpus at $ext (set MUGAI_CORPUS_EXT)" >&2; exit 2; }
load() { cut -d' ' -f1 /proc/loadavg; }
echo "mugai throughput, $(date -u +%FT%TZ), $(nproc) cores, rounds $rounds, load $(load)"

# ---------------------------------------------------------------- inputs
mkdir -p "$work/pdf" "$work/big" "$work/img" "$work/scale"
# The public PDFs that mugai and both mutool modes accept (small set).
while IFS= read -r f; do
  if timeout 20 mutool clean -s -z "$f" "$work/probe.pdf" >/dev/null 2>&1 \
    && timeout 20 mutool clean "$f" "$work/probe.pdf" >/dev/null 2>&1 \
    && "$bin" sanitize --in-process --out "$work/probe" "$f" >/dev/null 2>&1; then
    echo "$f" >> "$work/small.list"
  fi
  rm -rf "$work/probe" "$work/probe.pdf"
done < <(find "$ext" -type f -iname '*.pdf' -path '*benign*' | LC_ALL=C sort)
# Large joined documents: whole public documents, copied under distinct
# names so that qpdf copies every page (a repeated file would share them).
i=0
while IFS= read -r f; do
  if qpdf --check "$f" >/dev/null 2>&1; then
    i=$((i + 1)); cp "$f" "$work/pdf/p$(printf %03d $i).pdf"
  fi
done < "$work/small.list"
join() { # out copies files...
  local out=$1 copies=$2; shift 2
  local args=() c f
  for c in $(seq "$copies"); do
    for f in "$@"; do cp "$f" "$work/pdf/c$c-$(basename "$f")"; args+=("$work/pdf/c$c-$(basename "$f")"); done
  done
  qpdf --empty --pages "${args[@]}" -- "$out" 2>/dev/null || [ $? = 3 ]
}
mapfile -t all < <(ls "$work"/pdf/p*.pdf)
join "$work/big/joined-public.pdf" 1 "${all[@]}"
tm=$(grep -m1 'tracemonkey.pdf' "$work/small.list" || true)
if [ -n "$tm" ]; then join "$work/big/tracemonkey-x6.pdf" 6 "$tm"; fi
# A scanned-photo document: 8 pages, each a 2400x1800 JPEG photo.
for p in 1 2 3 4 5 6 7 8; do
  $im -size 2400x1800 -seed $p plasma:fractal -blur 0x1 -quality 92 "$work/scan$p.jpg"
  printf '%%%%MediaBox 0 0 612 792\n%%%%Image Im0 scan%s.jpg\nq 612 0 0 459 0 166 cm /Im0 Do Q\n' "$p" > "$work/page$p.txt"
done
(cd "$work" && mutool create -o big/scanned-photos.pdf page?.txt)
# 12-megapixel images: a photo (JPEG) and a scanned page (PNG).
$im -size 4000x3000 -seed 7 plasma:fractal -blur 0x2 -quality 92 "$work/img/photo-12mp.jpg"
draws=()
for y in $(seq 200 40 2800); do draws+=(-draw "line 300,$y $((1200 + (y * 37) % 2400)),$y"); done
$im -size 4000x3000 xc:white -stroke black -strokewidth 3 "${draws[@]}" \
  -seed 5 -attenuate 0.15 +noise Gaussian -colorspace Gray "$work/img/scan-12mp.png"
# Scaling: the same public documents 1x, 4x and 16x.
if [ -n "$tm" ]; then base=("$tm"); else base=("${all[@]:0:6}"); fi
join "$work/scale/1x.pdf" 1 "${base[@]}"
join "$work/scale/4x.pdf" 4 "${base[@]}"
join "$work/scale/16x.pdf" 16 "${base[@]}"

# -------------------------------------------------------------- helpers
now() { date +%s%N; }
# best-of-rounds wall time (s) of running "$@" with {} replaced by each file
# of the list $1, one process per file.
best_list() {
  local list=$1; shift
  local b=999999 s e f
  for _ in $(seq "$rounds"); do
    s=$(now)
    while IFS= read -r f; do
      "${@//\{\}/$f}" >/dev/null 2>&1 || true
    done < "$list"
    e=$(now)
    b=$(awk -v a="$s" -v z="$e" -v b="$b" 'BEGIN{t=(z-a)/1e9; print (t<b)?t:b}')
  done
  echo "$b"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
mb() { awk -v s="$(stat -c %s "$1")" 'BEGIN{printf "%.1f", s/1048576}'; }
mugai=("$bin" sanitize --workers 1 --out "$work/o" "{}")
clean_out() { rm -rf "$work/o" "$work/o.pdf" "$work/o.jpg" "$work/o.png"; }

# ---------------------------------------------------------------- PDFs
echo "== PDF: mugai (worker pool, 1 worker) vs mutool clean, one process per file (load $(load))"
pdf_row() { # label list
  local label=$1 list=$2 tm t1 t2
  tm=$(best_list "$list" "${mugai[@]}")
  t1=$(best_list "$list" mutool clean "{}" "$work/o.pdf")
  t2=$(best_list "$list" mutool clean -s -z "{}" "$work/o.pdf")
  clean_out
  printf '  %-34s mugai %6.3fs  clean %6.3fs (%sx)  clean -s -z %6.3fs (%sx)\n' \
    "$label" "$tm" "$t1" "$(ratio "$tm" "$t1")" "$t2" "$(ratio "$tm" "$t2")"
}
for f in "$work"/big/*.pdf; do
  if ! "$bin" sanitize --in-process --out "$work/o" "$f" >/dev/null 2>&1; then
    echo "  $(basename "$f"): mugai does not rebuild it; skipped"; clean_out; continue
  fi
  clean_out
  echo "$f" > "$work/one.list"
  pdf_row "$(basename "$f") ($(mb "$f") MB)" "$work/one.list"
done
pdf_row "small: $(wc -l < "$work/small.list") public PDFs" "$work/small.list"

# --------------------------------------------------------------- images
echo "== 12 MP images: mugai vs vips copy and ImageMagick, one process per file (load $(load))"
for f in "$work"/img/*; do
  ext_=${f##*.}
  echo "$f" > "$work/one.list"
  tm=$(best_list "$work/one.list" "${mugai[@]}")
  tv=$(best_list "$work/one.list" vips copy "{}" "$work/o.$ext_")
  ti=$(best_list "$work/one.list" "$im" "{}" "$work/o.$ext_")
  clean_out
  printf '  %-34s mugai %6.3fs  vips copy %6.3fs (%sx)  convert %6.3fs (%sx)\n' \
    "$(basename "$f") ($(mb "$f") MB)" "$tm" "$tv" "$(ratio "$tm" "$tv")" "$ti" "$(ratio "$tm" "$ti")"
done

# ------------------------------------------------- daemon vs CLI, p50/p99
python3 - "$work/small600" <<'EOF'
import os, sys
root = sys.argv[1]
for i in range(600):
    d = os.path.join(root, f"section{i % 10}")
    os.makedirs(d, exist_ok=True)
    if i % 2 == 0:
        body = "".join(f"報告 {i} 行 {l}: 本文の例です。\n" for l in range(60))
        name = f"report{i}.txt"
    else:
        body = "".join(f"{l},=SUM(A{l}:B{l}),値{l}\n" for l in range(60))
        name = f"table{i}.csv"
    with open(os.path.join(d, name), "w", encoding="utf-8") as f:
        f.write(body)
EOF
echo "== 600 small text/CSV files: CLI vs daemon (2 workers each) (load $(load))"
b=999999
for _ in $(seq "$rounds"); do
  rm -rf "$work/o"; s=$(now)
  "$bin" sanitize --out "$work/o" "$work/small600" >/dev/null 2>&1 || true
  e=$(now)
  b=$(awk -v a="$s" -v z="$e" -v b="$b" 'BEGIN{t=(z-a)/1e9; print (t<b)?t:b}')
done
rm -rf "$work/o"
cli_fps=$(awk -v t="$b" 'BEGIN{printf "%.0f", 600/t}')

# Runs the daemon over a folder; prints "files/s p50_ms p99_ms n" from the
# audit log (files/s between the first and the last record).
daemon_run() { # src workers
  python3 - "$bin" "$work/d" "$1" "$2" <<'EOF'
import json, os, shutil, socket, subprocess, sys, time
bin_, root, src, workers = sys.argv[1:5]
shutil.rmtree(root, ignore_errors=True)
os.makedirs(root)
cfg = os.path.join(root, "mugai.toml")
with open(cfg, "w") as f:
    f.write(f"[daemon]\nsettle_ms = 100\nrescan_secs = 5\nworkers = {workers}\n[log]\nlevel = \"warn\"\n")
sock_path = os.path.join(root, "notify.sock")
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(sock_path)
sock.settimeout(60)
args = [bin_, "daemon", "--config", cfg]
for d in ["inbox", "clean", "quarantine", "originals", "state", "audit"]:
    args += [f"--{d}", os.path.join(root, d)]
env = dict(os.environ, NOTIFY_SOCKET=sock_path)
p = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)
while b"READY=1" not in sock.recv(64):
    pass
n = sum(len(fs) for _, _, fs in os.walk(src))
# Staged on the same filesystem, then moved in with one rename.
stage = os.path.join(root, "stage")
shutil.copytree(src, stage)
os.rename(stage, os.path.join(root, "inbox", "burst"))
audit = os.path.join(root, "audit")
def records():
    out = []
    for name in sorted(os.listdir(audit)):
        with open(os.path.join(audit, name), encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    out.append(json.loads(line))
    return out
seen, last_change, count = {}, time.time(), 0
while True:
    recs = records()
    now = time.time()
    for r in recs:
        seen.setdefault(r.get("id"), now)
    if len(recs) != count:
        count, last_change = len(recs), now
    if count >= n or now - last_change > 20:
        break
    time.sleep(0.005)
p.terminate()
p.wait()
recs = [r for r in records() if "duration_ms" in r]
times = sorted(seen.values())
span = times[-1] - times[0] if len(times) > 1 else 0
fps = (len(times) - 1) / span if span > 0 else 0
d = sorted(r["duration_ms"] for r in recs)
pct = lambda q: d[min(len(d) - 1, round((len(d) - 1) * q))] if d else -1
print(f"{fps:.0f} {pct(0.5)} {pct(0.99)} {len(recs)} {n}")
EOF
}
read -r d_fps _ _ d_n d_in < <(daemon_run "$work/small600" 0)
printf '  CLI %s files/s, daemon %s files/s (%s of %s files recorded): daemon/CLI %sx\n' \
  "$cli_fps" "$d_fps" "$d_n" "$d_in" "$(ratio "$d_fps" "$cli_fps")"

echo "== per-file time over the external corpus (CLI, 1 worker, one process per file) (load $(load))"
python3 - "$bin" "$ext" "$work/o" <<'EOF'
import os, shutil, subprocess, sys, time
bin_, ext, out = sys.argv[1:4]
files = sorted(os.path.join(r, f) for r, _, fs in os.walk(ext) for f in fs)
def run(f):
    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    subprocess.run([bin_, "sanitize", "--workers", "1", "--out", out, f],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - t) * 1e3
tiny = out + "-tiny.txt"
with open(tiny, "w") as f:
    f.write("x\n")
base = sorted(run(tiny) for _ in range(5))[2]
d = sorted(run(f) for f in files)
pct = lambda q: d[min(len(d) - 1, round((len(d) - 1) * q))]
print(f"  {len(d)} files: p50 {pct(.5):.0f} ms, p99 {pct(.99):.0f} ms, max {d[-1]:.0f} ms"
      f" (of which start-up of the CLI and its worker, on a one-line file: {base:.0f} ms)")
EOF
rm -rf "$work/d"

# ------------------------------------------------- worker RSS and scaling
echo "== peak RSS (engine in one process, as a worker runs it) and scaling (load $(load))"
rss_row() { # file
  local f=$1 s e kb t
  s=$(now)
  kb=$(/usr/bin/time -f '%M' "$bin" sanitize --in-process --out "$work/o" "$f" 2>&1 >/dev/null | tail -1)
  e=$(now); rm -rf "$work/o"
  t=$(awk -v a="$s" -v z="$e" 'BEGIN{printf "%.3f", (z-a)/1e9}')
  awk -v f="$(basename "$f")" -v s="$(stat -c %s "$f")" -v kb="$kb" -v t="$t" 'BEGIN{
    in_mb=s/1048576; rss=kb/1024; lim=4*in_mb+64;
    printf "  %-28s %7.1f MB in  %7.3f s  peak RSS %6.1f MB  (limit 4x+64 = %.1f MB: %s)\n",
      f, in_mb, t, rss, lim, (rss<=lim)?"within":"OVER"}'
}
for f in "$work"/big/*.pdf "$work"/img/*; do rss_row "$f"; done
for f in "$work"/scale/1x.pdf "$work"/scale/4x.pdf "$work"/scale/16x.pdf; do rss_row "$f"; done
echo "done (load $(load))"
