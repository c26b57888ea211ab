#!/usr/bin/env python3
"""tests/e2e/data/make_pdf.py — PDFs with a known structure, written by hand
(the standard Helvetica fonts, no dependency), for tests/e2e/formats.sh.

  make_pdf.py structured OUT   four pages: a title, headings, a hyphenated
                               word, a running header and page numbers, a
                               two-column page, a page without text
  make_pdf.py tables OUT       one page: prose, a three-column table with a bold
                               header row and a wrapped cell, a two-column table
                               of short cells, and a definition list (a term
                               beside a wrapped description) that is no table
  make_pdf.py slow OUT         one page whose content stream is a few hundred
                               MB of drawing operators, compressed to ~1 MB:
                               a reader spends many seconds on it
"""
import sys
import zlib


def pdf(pages, compress=False):
    """pages: a list of content-stream byte strings (612 x 792 points)."""
    objs = []

    def add(body):
        objs.append(body)
        return len(objs)

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    bold = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold >>")
    kids = []
    pages_id = len(objs) + 2 * len(pages) + 1
    for content in pages:
        if compress:
            data = zlib.compress(content, 9)
            stream = add(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data +
                         b"\nendstream")
        else:
            stream = add(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] "
                        b"/Resources << /Font << /F1 %d 0 R /F2 %d 0 R >> >> /Contents %d 0 R >>"
                        % (pages_id, font, bold, stream)))
    assert add(b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids) +
               b"] /Count %d >>" % len(kids)) == pages_id
    info = add(b"<< /Author (Ada Tester) >>")
    root = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % (i + 1) + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objs) + 1, root, info, xref)
    return bytes(out)


def text(x, y, size, s, font=b"F1"):
    return b"BT /%s %d Tf %d %d Td (%s) Tj ET\n" % (font, size, x, y, s.encode("latin-1"))


def furniture(page_no):
    """The running header and the page number every page carries."""
    return text(72, 760, 9, "ACME Widget Manual") + text(300, 30, 9, str(page_no))


def structured():
    p1 = (furniture(1) + text(72, 700, 24, "The Widget Book") +
          text(72, 650, 16, "1 Assembly") +
          text(72, 620, 11, "Attach the flange to the base plate and tighten the bolts with an ordi-") +
          text(72, 606, 11, "nary wrench, then check that the widget spins freely.") +
          text(72, 570, 16, "2 Maintenance") +
          text(72, 540, 11, "Oil the spindle every month with light machine oil."))
    p2 = (furniture(2) + text(72, 700, 16, "3 Troubleshooting") +
          text(72, 660, 11, "Left column first: a widget that hums") +
          text(72, 646, 11, "needs its bearings replaced soon.") +
          text(72, 600, 11, "Left column again: the hum fades") +
          text(72, 586, 11, "once the new bearings settle in.") +
          text(330, 660, 11, "Right column second: a widget that") +
          text(330, 646, 11, "rattles has a loose flange bolt.") +
          text(330, 600, 11, "Right column again: tighten it and") +
          text(330, 586, 11, "the rattle stops at once."))
    p3 = furniture(3) + text(72, 700, 11, "Spare parts are listed on the last page of this book.")
    p4 = b"0 0 1 rg 100 100 200 200 re f\n"   # a drawing, no text: as a scan would be
    return pdf([p1, p2, p3, p4])


def tables():
    t = text(72, 720, 16, "Parts and tools")
    t += text(72, 690, 11, "The parts below ship in one box; check them before you start.")
    y = 660
    t += text(72, y, 11, "Part", b"F2") + text(220, y, 11, "Count", b"F2") + text(320, y, 11, "Use", b"F2")
    rows = [("flange", "2", "holds the base plate"), ("bolt", "12", "fixes the flange"),
            ("spindle", "1", "turns the widget")]
    for part, count, use in rows:
        y -= 16
        t += text(72, y, 11, part) + text(220, y, 11, count) + text(320, y, 11, use)
    y -= 14
    t += text(320, y, 11, "on its bearings")   # the last row's cell, wrapped
    y -= 36
    t += text(72, y, 11, "Tools you need:")
    for tool, size in [("wrench", "10 mm"), ("screwdriver", "PH2"), ("hex key", "4 mm")]:
        y -= 16
        t += text(72, y, 11, tool) + text(220, y, 11, size)
    y -= 36
    t += text(72, y, 11, "Options of the widget's controller:")
    for opt, desc in [("-v", ["prints every step the controller takes while it runs,",
                              "so that a failure can be traced to its cause."]),
                      ("-q", ["prints nothing at all, not even the errors it meets,",
                              "which is only wise when another log is kept."])]:
        y -= 16
        t += text(72, y, 11, opt) + text(120, y, 11, desc[0])
        y -= 14
        t += text(120, y, 11, desc[1])
    y -= 30
    t += text(72, y, 11, "Keep this page with the widget.")
    return pdf([t])


def slow():
    op = b"1 0 0 1 0 0 cm 0 0 m 1 1 l S\n"
    return pdf([op * (300_000_000 // len(op))], compress=True)


if __name__ == "__main__":
    kind, out = sys.argv[1], sys.argv[2]
    data = {"structured": structured, "tables": tables, "slow": slow}[kind]()
    with open(out, "wb") as f:
        f.write(data)
