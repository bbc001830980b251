#!/usr/bin/env bash
# Converts the office rebuilder's outputs with LibreOffice headless, to check
# that they still open. Not run in CI (LibreOffice is slow); run by hand:
#
#   tests/office_libreoffice.sh [OUTDIR]
#
# Needs libreoffice-writer-nogui, libreoffice-calc-nogui and
# libreoffice-impress-nogui. Sanitises the generated office corpus and the
# Office/RTF files of ../shared/corpus-ext (when present), converts every
# output to PDF, and prints how many converted; then lists the blocked
# corpus-ext inputs that LibreOffice opens, with mugai's reason for each.
set -u
cd "$(dirname "$0")/.."
WORK=${1:-$(mktemp -d)}
rm -rf "$WORK/out"
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
# One LibreOffice process converts a batch of files (its start-up is the slow part).
mapfile -t files < <(find "$WORK/out" -maxdepth 1 -type f \( -iname '*.docx' -o -iname '*.dotx' -o -iname '*.doc' \
  -o -iname '*.rtf' -o -iname '*.xlsx' -o -iname '*.xltx' -o -iname '*.xls' -o -iname '*.pptx' -o -iname '*.potx' \
  -o -iname '*.ppsx' -o -iname '*.ppt' \) | sort)
total=${#files[@]}
# Unique stems: a.docx and a.xlsx would both become a.pdf.
rm -rf "$WORK/lo_in" "$WORK"/pdf/*.pdf; mkdir -p "$WORK/lo_in"
for i in "${!files[@]}"; do
  cp "${files[$i]}" "$WORK/lo_in/$(printf %04d "$i")_$(basename "${files[$i]}")"
  files[$i]="$WORK/lo_in/$(printf %04d "$i")_$(basename "${files[$i]}")"
done
for ((i = 0; i < total; i += 20)); do
  timeout 900 soffice --headless --norestore --convert-to pdf --outdir "$WORK/pdf" "${files[@]:i:20}" >/dev/null 2>&1
done
opened=0; failed=()
for f in "${files[@]}"; do
  base=$(basename "$f"); stem=${base%.*}
  if [ -s "$WORK/pdf/$stem.pdf" ]; then opened=$((opened + 1)); else failed+=("$base"); fi
done
echo "LibreOffice converted $opened of $total rebuilt Office/RTF files (work dir $WORK)"
for f in "${failed[@]}"; do echo "  did not convert: $f"; done
# Blocked inputs of ../shared/corpus-ext that LibreOffice opens, each with
# the reason mugai gave (every block must state one).
if [ -f "$EXT/MANIFEST.tsv" ]; then
  python3 -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["verdict"] == "blocked" and not r["input"].startswith("/"):
        print(r["input"] + "\t" + (r["reason"] or "NO REASON").replace("\t", " "))
' "$WORK/reports.jsonl" > "$WORK/blocked.tsv"
  echo "Blocked inputs that LibreOffice opens:"
  while IFS=$'\t' read -r f reason; do
    d="$WORK/blocked_pdf/$(echo "$f" | tr / _)"; mkdir -p "$d"
    nice -n 19 timeout 60 soffice --headless --norestore --convert-to pdf --outdir "$d" "$EXT/$f" >/dev/null 2>&1
    if compgen -G "$d/*.pdf" >/dev/null; then echo "  $f: $reason"; fi
  done < "$WORK/blocked.tsv"
fi
[ "$opened" -eq "$total" ]
