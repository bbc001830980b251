#!/usr/bin/env python3
"""Independent judges over Office and RTF files, from oletools and the
Python standard library (no code shared with the rebuilder):

- msodde: DDE links and field instructions it considers dangerous;
- rtfobj: OLE objects in RTF;
- mraptor: VBA macros (any result but "No Macro");
- xml: every XML part of an OOXML package parses (expat, honouring the
  declared encoding).

    office_judges.py FILE...        one line per finding; exit 1 if any
    office_judges.py --count FILE... per judge, how many files it flags
"""
import io
import logging
import os
import sys
import zipfile
import xml.parsers.expat

logging.disable(logging.CRITICAL)

from oletools import msodde, rtfobj, olevba  # noqa: E402
from oletools.mraptor import MacroRaptor  # noqa: E402


def quiet(fn, *args):
    """Runs fn with stdout silenced (msodde prints as it goes)."""
    saved = sys.stdout
    sys.stdout = io.StringIO()
    try:
        return fn(*args)
    finally:
        sys.stdout = saved


def judge_msodde(path):
    try:
        text = quiet(msodde.process_file, path, msodde.FIELD_FILTER_BLACKLIST)
    except Exception as e:  # a file msodde cannot read holds no link it sees
        return []
    return [l.strip() for l in (text or "").splitlines() if l.strip()]


def judge_rtfobj(path):
    with open(path, "rb") as f:
        data = f.read()
    if not data.startswith(b"{\\rtf"):
        return []
    p = rtfobj.RtfObjParser(data)
    p.parse()
    return ["OLE object at %#x" % o.start for o in p.objects]


def judge_mraptor(path):
    try:
        vba = olevba.VBA_Parser(path)
    except Exception:
        return []
    try:
        if not vba.detect_vba_macros():
            return []
        code = "\n".join(c for (_, _, _, c) in vba.extract_macros())
        m = MacroRaptor(code)
        m.scan()
        return ["macro (flags %s)" % m.get_flags()]
    finally:
        vba.close()


def judge_xml(path):
    try:
        z = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        return []
    bad = []
    for name in z.namelist():
        low = name.lower()
        if not (low.endswith(".xml") or low.endswith(".rels") or low.endswith(".vml")):
            continue
        p = xml.parsers.expat.ParserCreate()
        try:
            p.Parse(z.read(name), True)
        except xml.parsers.expat.ExpatError as e:
            bad.append("%s: not well-formed: %s" % (name, e))
    return bad


JUDGES = [
    ("msodde", judge_msodde),
    ("rtfobj", judge_rtfobj),
    ("mraptor", judge_mraptor),
    ("xml", judge_xml),
]


def main(argv):
    count = argv[:1] == ["--count"]
    files = argv[1:] if count else argv
    flagged = {n: [] for n, _ in JUDGES}
    for f in files:
        if not os.path.isfile(f):
            continue
        for name, judge in JUDGES:
            try:
                found = judge(f)
            except Exception as e:
                found = ["%s failed: %s" % (name, e)]
            if found:
                flagged[name].append(f)
                if not count:
                    for x in found[:5]:
                        print("%s: %s: %s" % (name, f, x))
    if count:
        for name, _ in JUDGES:
            print("%s: %d of %d files flagged" % (name, len(flagged[name]), len(files)))
            for f in flagged[name]:
                print("  " + f)
        return 0
    return 1 if any(flagged.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
