#!/usr/bin/env python3
"""The PDFs of the external corpus through mugai, one line per file:
verdict, page count equal, text equal (pdftotext, white space normalised,
against the input or, where poppler reads the input worse, against the
input as qpdf repairs it), and the reason or the finding codes.

Usage: tests/pdf_corpus_table.py [MUGAI_BINARY] [--all]
Without --all only blocked files and differences are listed.
Needs qpdf and pdftotext (poppler-utils).
"""

import json
import os
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
ext = os.environ.get("MUGAI_CORPUS_EXT", os.path.join(here, "../../shared/corpus-ext"))
args = [a for a in sys.argv[1:] if not a.startswith("--")]
binary = args[0] if args else os.path.join(here, "../target/debug/mugai")

files = []
with open(os.path.join(ext, "MANIFEST.tsv")) as m:
    for line in m.read().splitlines()[1:]:
        cols = line.split("\t")
        if len(cols) > 2 and cols[2].lower().endswith(".pdf"):
            p = os.path.join(ext, cols[2])
            if os.path.exists(p):
                files.append(p)

work = tempfile.mkdtemp()
run = subprocess.run([binary, "sanitize", "--json", "--out", os.path.join(work, "out")] + files,
                     capture_output=True)
reports = [json.loads(x) for x in run.stdout.decode().splitlines() if x.strip()]


def text(p):
    r = subprocess.run(["timeout", "20", "pdftotext", "-q", p, "-"], capture_output=True)
    if r.returncode == 124:
        return None
    return " ".join(r.stdout.decode("utf-8", "replace").split())


def repaired_text(p):
    fixed = os.path.join(work, "repaired.pdf")
    r = subprocess.run(["timeout", "20", "qpdf", p, fixed], capture_output=True)
    return text(fixed) if r.returncode in (0, 3) else None


def pages(p):
    r = subprocess.run(["qpdf", "--show-npages", p], capture_output=True)
    try:
        return int(r.stdout.split()[0])
    except (IndexError, ValueError):
        return None


rebuilt = same = same_strict = same_pages = unread = 0
print("verdict | file | pages equal | text equal | reason or codes")
for r in reports:
    name = os.path.relpath(r["input"], ext)
    codes = ",".join(sorted({f["code"] for f in r.get("findings", [])}))
    if r["verdict"] == "blocked":
        print(f"blocked | {name} | - | - | {r.get('reason', '')}")
        continue
    rebuilt += 1
    pi, po = pages(r["input"]), pages(r["output"])
    if pi == 0 and (po or 0) > 0:
        # Pages written directly into /Kids: qpdf and poppler skip them
        # (the input reads as empty), the rebuild keeps them as Acrobat
        # shows them. Nothing to compare with; listed apart.
        unread += 1
        print(f"{r['verdict']} | {name} | 0 -> {po} (inline /Kids) | not compared | {codes}")
        continue
    ti, to = text(r["input"]), text(r["output"])
    strict = ti == to
    equal = strict or (to is not None and repaired_text(r["input"]) == to)
    same_strict += strict
    same += equal
    pages_ok = pi is None or pi == po
    same_pages += pages_ok
    if "--all" in sys.argv or not (strict and pages_ok):
        t = "yes" if strict else ("yes (qpdf-repaired input)" if equal
                                  else f"no ({len(ti or '')} -> {len(to or '')} chars)")
        print(f"{r['verdict']} | {name} | {'yes' if pages_ok else f'{pi} -> {po}'} | {t} | {codes}")
compared = rebuilt - unread
print(f"{len(reports)} files, {rebuilt} rebuilt, {len(reports) - rebuilt} blocked; "
      f"{unread} with pages qpdf does not read (not compared); "
      f"pages equal {same_pages}/{compared}; text equal {same}/{compared} "
      f"({100 * same / max(compared, 1):.1f}%), to the unrepaired input only "
      f"{same_strict}/{compared} ({100 * same_strict / max(compared, 1):.1f}%)")
