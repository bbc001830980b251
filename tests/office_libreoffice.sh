#!/usr/bin/env bash
# Converts the office rebuilder's outputs with LibreOffice headless, to check
# that they still open. Not run in CI (LibreOffice is slow); run by hand:
#
#   tests/office_libreoffice.sh [OUTDIR]
#
# Needs libreoffice-writer-nogui, libreoffice-calc-nogui and
# libreoffice-impress-nogui. Sanitises the generated office corpus and the
# Office/RTF files of ../shared/corpus-ext (when present), converts every
# output to PDF, and prints how many converted.
set -u
cd "$(dirname "$0")/.."
WORK=${1:-$(mktemp -d)}
mkdir -p "$WORK/corpus" "$WORK/out" "$WORK/pdf"
cargo build -q -p mugai --bin mugai -p mugai-corpus --bin mugai-corpus || exit 2
MUGAI=$PWD/target/debug/mugai
./target/debug/mugai-corpus "$WORK/corpus" >/dev/null
"$MUGAI" sanitize --json --out "$WORK/out" "$WORK"/corpus/office/* > "$WORK/reports.jsonl" 2>/dev/null
EXT=../shared/corpus-ext
if [ -f "$EXT/MANIFEST.tsv" ]; then
  (cd "$EXT" && awk -F'\t' 'NR>1 && $5 ~ /^(ooxml|ole2|rtf)/ {print $3}' MANIFEST.tsv \
    | xargs -d '\n' "$MUGAI" sanitize --json --out "$WORK/out" >> "$WORK/reports.jsonl" 2>/dev/null)
fi
total=0; opened=0; failed=()
for f in "$WORK"/out/*; do
  [ -f "$f" ] || continue
  case "${f,,}" in
    *.docx|*.dotx|*.doc|*.rtf|*.xlsx|*.xltx|*.xls|*.pptx|*.potx|*.ppsx|*.ppt) ;;
    *) continue ;;
  esac
  total=$((total + 1))
  base=$(basename "$f"); stem=${base%.*}
  rm -f "$WORK/pdf/$stem.pdf"
  timeout 120 soffice --headless --norestore --convert-to pdf --outdir "$WORK/pdf" "$f" >/dev/null 2>&1
  if [ -s "$WORK/pdf/$stem.pdf" ]; then
    opened=$((opened + 1))
  else
    failed+=("$base")
  fi
done
echo "LibreOffice converted $opened of $total rebuilt Office/RTF files (work dir $WORK)"
for f in "${failed[@]}"; do echo "  did not convert: $f"; done
[ "$opened" -eq "$total" ]
