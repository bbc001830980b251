#!/usr/bin/env python3
"""An independent judge of sanitised PDFs, written against pikepdf (qpdf),
not against mugai's own parser.

Usage: pdf_judge.py FILE...  Prints one line per file that fails and why;
exits 1 when any file fails, 0 when all pass.

A file fails on: an action other than GoTo to a local destination or a
Named page-navigation action (URI is allowed only with --allow-uri); any
/JS or /JavaScript key or name-tree entry; an embedded file or file
specification with /EF; an annotation subtype outside the kept list; XFA;
/AA or a non-destination /OpenAction; a stream that does not decode.
"""

import sys

import pikepdf
from pikepdf import Array, Dictionary, Name, Stream

KEPT_ANNOTS = {
    "/Link", "/Text", "/FreeText", "/Highlight", "/Underline", "/StrikeOut",
    "/Squiggly", "/Square", "/Circle", "/Line", "/Polygon", "/PolyLine",
    "/Ink", "/Stamp", "/Caret", "/Popup", "/Widget",
}
NAMED = {"/NextPage", "/PrevPage", "/FirstPage", "/LastPage"}
FORBIDDEN_KEYS = {"/JS", "/JavaScript", "/AA", "/EF", "/EmbeddedFiles", "/XFA",
                  "/RichMediaContent", "/Launch"}


def judge(path, allow_uri):
    problems = []
    try:
        pdf = pikepdf.open(path)
    except Exception as e:  # noqa: BLE001 - any failure to open is a verdict
        return [f"does not open: {e}"]
    pages = {p.objgen for p in pdf.pages}

    def action_ok(a, where):
        if not isinstance(a, Dictionary):
            problems.append(f"{where}: action is not a dictionary")
            return
        s = a.get("/S")
        s = str(s) if isinstance(s, Name) else None
        if s == "/GoTo":
            d = a.get("/D")
            if isinstance(d, Array) and len(d) > 0:
                first = d[0]
                if isinstance(first, Dictionary) and first.objgen not in pages:
                    problems.append(f"{where}: GoTo to an object that is not a page")
        elif s == "/Named":
            if str(a.get("/N")) not in NAMED:
                problems.append(f"{where}: Named action {a.get('/N')}")
        elif s == "/URI" and allow_uri:
            pass
        else:
            problems.append(f"{where}: action {s}")
        nxt = a.get("/Next")
        if nxt is not None:
            for i, n in enumerate(nxt if isinstance(nxt, Array) else [nxt]):
                action_ok(n, f"{where}/Next[{i}]")

    seen = set()

    # Resource maps and similar: their keys are names the producer chose.
    label_maps = {"/Font", "/XObject", "/ExtGState", "/ColorSpace", "/Pattern",
                  "/Shading", "/Properties", "/CharProcs", "/Dests"}

    def walk(o, where, depth, labels=False):
        if depth > 200:
            problems.append(f"{where}: nested too deep")
            return
        if isinstance(o, (Dictionary, Stream, Array)) and o.is_indirect:
            if o.objgen in seen:
                return
            seen.add(o.objgen)
        if isinstance(o, Array):
            for i, x in enumerate(o):
                walk(x, f"{where}[{i}]", depth + 1)
            return
        if not isinstance(o, (Dictionary, Stream)):
            return
        if isinstance(o, Stream):
            try:
                o.read_bytes()
            except Exception as e:  # noqa: BLE001
                filt = o.get("/Filter")
                # Image codecs are read by the viewer, not by qpdf.
                if str(filt) not in ("/DCTDecode",):
                    problems.append(f"{where}: stream does not decode: {e}")
        for k in list(o.keys()):
            v = o.get(k)
            if k in FORBIDDEN_KEYS and not labels:
                problems.append(f"{where}: key {k}")
            if k == "/Type" and str(v) in ("/EmbeddedFile", "/Filespec") and "/EF" in o:
                problems.append(f"{where}: embedded file")
            # In the structure tree /A names attributes, not an action.
            if k in ("/A", "/PA") and "/StructTreeRoot" not in where:
                action_ok(v, f"{where}{k}")
                continue
            if k == "/OpenAction" and isinstance(v, Dictionary):
                action_ok(v, f"{where}{k}")
                continue
            if k in ("/Parent", "/P", "/Prev", "/Popup", "/IRT"):
                continue
            walk(v, f"{where}{k}", depth + 1, k in label_maps)
        if o.get("/Type") == Name.Annot or "/Rect" in o and "/Subtype" in o:
            sub = str(o.get("/Subtype"))
            if sub not in KEPT_ANNOTS:
                problems.append(f"{where}: annotation {sub}")
        s = o.get("/S")
        if isinstance(s, Name) and str(s) in ("/JavaScript", "/Launch", "/SubmitForm",
                                               "/ImportData", "/GoToR", "/GoToE",
                                               "/ResetForm", "/Rendition", "/Movie",
                                               "/Sound", "/RichMediaExecute"):
            problems.append(f"{where}: action {s}")

    walk(pdf.trailer, "trailer", 0)
    for i, page in enumerate(pdf.pages):
        for j, annot in enumerate(page.get("/Annots", [])):
            if isinstance(annot, Dictionary):
                sub = str(annot.get("/Subtype"))
                if sub not in KEPT_ANNOTS:
                    problems.append(f"page {i + 1} annotation {j}: {sub}")
    if pdf.attachments:
        problems.append("embedded files")
    return problems


def main():
    args = sys.argv[1:]
    allow_uri = "--allow-uri" in args
    files = [a for a in args if a != "--allow-uri"]
    failed = 0
    for f in files:
        problems = judge(f, allow_uri)
        if problems:
            failed += 1
            print(f"{f}: {'; '.join(problems[:5])}")
    print(f"pdf_judge: {len(files) - failed}/{len(files)} pass", file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
