#!/usr/bin/env bash
# Runs oletools' olevba over the office rebuilder's outputs and fails if it
# finds a VBA or XLM macro in any of them (and rtfobj over RTF outputs: no
# OLE object). Needs `pip install oletools==0.60`.
#
#   tests/office_olevba.sh [OUTDIR]
set -u
cd "$(dirname "$0")/.."
WORK=${1:-$(mktemp -d)}
rm -rf "$WORK/out"
mkdir -p "$WORK/corpus" "$WORK/out"
cargo build -q -p mugai --bin mugai -p mugai-corpus --bin mugai-corpus || exit 2
MUGAI=$PWD/target/debug/mugai
./target/debug/mugai-corpus "$WORK/corpus" >/dev/null
"$MUGAI" sanitize --json --out "$WORK/out" "$WORK"/corpus/office/* >/dev/null 2>&1
EXT=../shared/corpus-ext
if [ -f "$EXT/MANIFEST.tsv" ]; then
  (cd "$EXT" && awk -F'\t' 'NR>1 && $5 ~ /^(ooxml|ole2|rtf)/ {print $3}' MANIFEST.tsv \
    | xargs -d '\n' "$MUGAI" sanitize --json --out "$WORK/out" >/dev/null 2>&1)
fi
n=$(find "$WORK/out" -type f | wc -l)
[ "$n" -gt 0 ] || { echo "no outputs"; exit 2; }
# Triage mode: one line per file, flags like "OpX:MAS-H---"; an "M" right
# after the colon means macros (VBA or XLM) were found.
# One file per run: in a batch, one file olevba cannot parse ends the batch.
find "$WORK/out" -type f -print0 | xargs -0 -n 1 -P 2 olevba -t > "$WORK/olevba.txt" 2>/dev/null
if awk '$1 ~ /^[A-Za-z?]+:M/ {found=1; print "  macro: " $0} END {exit !found}' "$WORK/olevba.txt"; then
  echo "olevba found macros in the outputs (see $WORK/olevba.txt)"
  exit 1
fi
# RTF: oletools' rtfobj must find no OLE object (a row "0  |00000096h |...").
for f in "$WORK"/out/*.rtf; do
  [ -f "$f" ] || continue
  if rtfobj "$f" 2>/dev/null | grep -qE '^[0-9]+ +\|'; then
    echo "rtfobj found an OLE object in $f"
    exit 1
  fi
done
echo "olevba: no macros in $n outputs ($(grep -cE '^[A-Za-z?]+:' "$WORK/olevba.txt") triaged)"
