#!/usr/bin/env bash
# The PDF rebuild side by side with its fair peer, `mutool clean -s -z`
# (sanitised, recompressed content streams), in one run over the same
# files: the PDFs of the external corpus that both tools accept, and a
# large generated document (hundreds of pages of text and images).
#
#   benches/pdf_vs_mutool.sh [--debug] [--rounds N]
#
# Each tool handles one file per process, so both pay process start-up
# alike; the best of N rounds is reported, and the ratio mugai / mutool.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=release; rounds=3
while [ $# -gt 0 ]; do
  case "$1" in
    --debug) profile=debug ;;
    --rounds) rounds=$2; shift ;;
    *) echo "usage: $0 [--debug] [--rounds N]" >&2; exit 2 ;;
  esac
  shift
done
command -v mutool >/dev/null || { echo "mutool is missing (apt-get install mupdf-tools)" >&2; exit 2; }
if [ "$profile" = release ]; then
  cargo build -q --release -p mugai
else
  cargo build -q -p mugai
fi
bin=target/$profile/mugai
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
ext=${MUGAI_CORPUS_EXT:-../shared/corpus-ext}

# The files both tools accept.
: > "$work/files"
if [ -d "$ext" ]; then
  while IFS= read -r f; do
    if timeout 20 mutool clean -s -z "$f" "$work/probe.pdf" >/dev/null 2>&1 \
      && "$bin" sanitize --out "$work/probe" "$f" >/dev/null 2>&1; then
      echo "$f" >> "$work/files"
    fi
    rm -rf "$work/probe" "$work/probe.pdf"
  done < <(find "$ext" -type f -iname '*.pdf' | sort)
fi

# A large document: 200 pages of text, each with a photo-like image,
# made by mutool itself.
python3 - "$work" <<'EOF'
import random, struct, sys, zlib
work = sys.argv[1]
w, h = 300, 200
random.seed(1)
raw = b"".join(b"\0" + bytes((x * 3 + y + random.randrange(4)) & 255 for x in range(w * 3))
               for y in range(h))
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
with open(f"{work}/image.png", "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))
for p in range(200):
    with open(f"{work}/page{p:03}.txt", "w") as f:
        f.write("%%MediaBox 0 0 612 792\n%%Font F1 Helvetica\n%%Image Im0 image.png\n")
        f.write("q 400 0 0 300 100 400 cm /Im0 Do Q\nBT /F1 10 Tf 72 380 Td\n")
        for line in range(30):
            f.write(f"0 -12 Td (Page {p} line {line}: the quick brown fox jumps over the lazy dog) Tj\n")
        f.write("ET\n")
EOF
(cd "$work" && mutool create -o raw.pdf page*.txt && mutool clean -z raw.pdf large.pdf)
echo "$work/large.pdf" > "$work/large.files"

# The default policy in a confined worker; the same with `[pdf] flate =
# "keep_exact"`; and the default in process, which shows what the worker's
# confinement (a second process, its namespaces) adds per file.
printf '[pdf]\nflate = "keep_exact"\n' > "$work/keep_exact.toml"
mugai_one() { "$bin" sanitize --out "$work/m" "$1" >/dev/null 2>&1 || true; rm -rf "$work/m"; }
mugai_keep() { "$bin" sanitize --policy "$work/keep_exact.toml" --out "$work/m" "$1" >/dev/null 2>&1 || true; rm -rf "$work/m"; }
mugai_inproc() { "$bin" sanitize --in-process --out "$work/m" "$1" >/dev/null 2>&1 || true; rm -rf "$work/m"; }
mutool_one() { mutool clean -s -z "$1" "$work/o.pdf" >/dev/null 2>&1 || true; }
best() { # per-file-function list-file: the best time of the rounds, in s
  local fn=$1 list=$2 b=999999 s e t
  for _ in $(seq "$rounds"); do
    s=$(date +%s.%N)
    while IFS= read -r f; do "$fn" "$f"; done < "$list"
    e=$(date +%s.%N)
    t=$(echo "$s $e" | awk '{printf "%.2f", $2 - $1}')
    b=$(echo "$t $b" | awk '{print ($1 < $2) ? $1 : $2}')
  done
  echo "$b"
}

if ! "$bin" sanitize --out "$work/check" "$work/large.pdf" >/dev/null 2>&1; then
  echo "mugai does not rebuild the large document; its time would not compare" >&2
  : > "$work/large.files"
fi
for set in files large.files; do
  n=$(wc -l < "$work/$set")
  [ "$n" -gt 0 ] || continue
  mb=$(xargs -d '\n' du -cb < "$work/$set" | tail -1 | awk '{printf "%.1f", $1 / 1048576}')
  tm=$(best mugai_one "$work/$set")
  tk=$(best mugai_keep "$work/$set")
  ti=$(best mugai_inproc "$work/$set")
  tt=$(best mutool_one "$work/$set")
  r() { echo "$1 $tt" | awk '{printf "%.2f", $1 / $2}'; }
  echo "$set: $n PDFs, $mb MB: mutool clean -s -z ${tt}s; mugai ($profile) ${tm}s, ratio $(r "$tm")x;" \
    "keep_exact ${tk}s, $(r "$tk")x; in process ${ti}s, $(r "$ti")x"
done
