#!/usr/bin/env bash
# Independent judges over the office rebuilder's outputs (generated corpus
# and corpus-ext): oletools' olevba finds no VBA or XLM macro, msodde no DDE
# link or dangerous field, rtfobj no OLE object in RTF, mraptor no macro,
# and every XML part of every OOXML output is well-formed
# (tests/office_judges.py). The same judges over the inputs are printed
# first, so that each one is seen to flag something. Needs
# `pip install oletools==0.60.2`.
#
#   tests/office_olevba.sh [OUTDIR]
set -u
cd "$(dirname "$0")/.."
WORK=${1:-$(mktemp -d)}
rm -rf "$WORK/out"
mkdir -p "$WORK/corpus" "$WORK/out"
cargo build -q -p mugai --bin mugai -p mugai-corpus --bin mugai-corpus || exit 2
MUGAI=$PWD/target/debug/mugai
JUDGES=$PWD/tests/office_judges.py
./target/debug/mugai-corpus "$WORK/corpus" >/dev/null
"$MUGAI" sanitize --json --out "$WORK/out" "$WORK"/corpus/office/* >/dev/null 2>&1
EXT=../shared/corpus-ext
if [ -f "$EXT/MANIFEST.tsv" ]; then
  (cd "$EXT" && awk -F'\t' 'NR>1 && $5 ~ /^(ooxml|ole2|rtf)/ {print $3}' MANIFEST.tsv \
    | xargs -d '\n' "$MUGAI" sanitize --json --out "$WORK/out" >/dev/null 2>&1)
  echo "judges over the corpus-ext inputs:"
  (cd "$EXT" && awk -F'\t' 'NR>1 && $5 ~ /^(ooxml|ole2|rtf)/ {print $3}' MANIFEST.tsv \
    | xargs -d '\n' python3 "$JUDGES" --count) | grep 'flagged'
fi
n=$(find "$WORK/out" -type f | wc -l)
[ "$n" -gt 0 ] || { echo "no outputs"; exit 2; }
# Triage mode: one line per file, flags like "OpX:MAS-H---"; an "M" right
# after the colon means macros (VBA or XLM) were found.
# One file per run: in a batch, one file olevba cannot parse ends the batch.
# Only Office and RTF outputs: olevba and mraptor read any other text (an
# Outlook message text-ized to .eml) as VBA source and flag it.
office_outputs() {
  find "$WORK/out" -type f -regextype posix-extended \
    -iregex '.*\.(doc|dot|xls|xlt|ppt|pot|pps)[xm]?$|.*\.rtf$' -print0
}
office_outputs | xargs -0 -n 1 -P 2 olevba -t > "$WORK/olevba.txt" 2>/dev/null
if awk '$1 ~ /^[A-Za-z?]+:M/ {found=1; print "  macro: " $0} END {exit !found}' "$WORK/olevba.txt"; then
  echo "olevba found macros in the outputs (see $WORK/olevba.txt)"
  exit 1
fi
# msodde, rtfobj, mraptor and the XML parser over every output.
if ! office_outputs | xargs -0 python3 "$JUDGES" > "$WORK/judges.txt"; then
  echo "the judges found danger in the outputs:"
  cat "$WORK/judges.txt"
  exit 1
fi
echo "olevba, msodde, rtfobj, mraptor, xml: nothing found in $n outputs ($(grep -cE '^[A-Za-z?]+:' "$WORK/olevba.txt") triaged by olevba)"
