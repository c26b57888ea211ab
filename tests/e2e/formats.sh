#!/usr/bin/env bash
# tests/e2e/formats.sh — documents in the formats people have them (issue 17):
# man pages as Debian ships them (gzip'd roff), compressed files, archives
# with limits against bombs, UTF-16 and other encodings, PDF, office documents
# and spreadsheets, e-mail.
. "$(dirname "$0")/lib.sh"

py() { python3 - "$@"; }

# ---- man pages: coreutils' ls(1) and tar(1), gzip'd, as every Debian has them
mkdir -p "$WORK/man"
cp /usr/share/man/man1/ls.1.gz /usr/share/man/man1/tar.1.gz "$WORK/man/"
expect "ingest gzip'd man pages" 0 "$MAST" ingest "$WORK/man" -c man
check "… both as documents" contains "$ERR" "files 2 seen, 2 ingested"
expect "documents list -c man --json" 0 "$MAST" documents list -c man --json
py "$OUT" >"$WORK/man.txt" <<'PYEOF'
import json, sys
for d in sorted(json.loads(sys.argv[1])["data"], key=lambda d: d["id"]):
    print(d["title"], "|", d["metadata"]["format"])
PYEOF
check "… titled by their NAME lines, read as roff" test "$(cat "$WORK/man.txt")" = \
  "ls - list directory contents | man
tar - an archiving utility | man"
expect "search an option's description" 0 "$MAST" search "sort by file size, largest first" -c man --json
py "$OUT" >"$WORK/man-hit.txt" <<'PYEOF'
import json, sys
r = json.loads(sys.argv[1])[0]
print(r["title"], "|", r["heading"], "|", "-S" in r["text"], "\\f" in r["text"], ".TP" in r["text"])
PYEOF
check "… finds ls's -S under DESCRIPTION, without roff" test "$(cat "$WORK/man-hit.txt")" = \
  "ls - list directory contents | DESCRIPTION | True False False"

# ---- compressed files: gzip, bzip2, xz and zstd, each named by its inner name
mkdir -p "$WORK/packed"
py "$WORK/packed" <<'PYEOF'
import bz2, gzip, lzma, sys
d = sys.argv[1]
texts = {"g.md": "# Gzip notes\n\nThe walrus naps on gzip ice.\n",
         "b.txt": "A bzip2 pelican fishes at dawn.\n",
         "x.txt": "An xz narwhal sings in the fjord.\n"}
open(d + "/g.md.gz", "wb").write(gzip.compress(texts["g.md"].encode()))
open(d + "/b.txt.bz2", "wb").write(bz2.compress(texts["b.txt"].encode()))
open(d + "/x.txt.xz", "wb").write(lzma.compress(texts["x.txt"].encode()))
open(d + "/broken.txt.gz", "wb").write(gzip.compress(b"cut short " * 1000)[:60])
PYEOF
expect "ingest compressed files (one fails: exit 1)" 1 "$MAST" ingest "$WORK/packed" -c packed
check "… three read, the truncated one failed" contains "$ERR" "files 4 seen, 3 ingested, 0 unchanged, 0 skipped, 1 failed"
check "… the failure named" contains "$ERR" "broken.txt.gz"
expect "search a gzip'd Markdown file" 0 "$MAST" search "walrus" -c packed --json
check "… read as Markdown (its heading)" contains "$OUT" '"heading": "Gzip notes"'
expect "search the xz one" 0 "$MAST" search "narwhal" -c packed --json
check "… found" contains "$OUT" "An xz narwhal sings"

# ---- archives: zip and tar.gz walked as folders; a zip bomb refused
mkdir -p "$WORK/arch"
py "$WORK/arch" <<'PYEOF'
import io, sys, tarfile, zipfile
d = sys.argv[1]
with zipfile.ZipFile(d + "/docs.zip", "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("guide/intro.md", "# Intro\n\nOtters juggle pebbles in the zip.\n")
    z.writestr("guide/.hidden.txt", "never read\n")
    z.writestr("data.bin", bytes(range(256)) * 4)
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z2:
        z2.writestr("deep.txt", "A nested badger digs tunnels.\n")
    z.writestr("inner.zip", inner.getvalue())
with tarfile.open(d + "/more.tar.gz", "w:gz") as t:
    data = b"Tar archives keep a heron's feathers.\n"
    info = tarfile.TarInfo("notes/heron.txt"); info.size = len(data)
    t.addfile(info, io.BytesIO(data))
# 1 GB of zeros in about 1 MB: refused before it is expanded
with zipfile.ZipFile(d + "/bomb.zip", "w", zipfile.ZIP_DEFLATED) as z:
    with z.open("zeros.txt", "w", force_zip64=True) as f:
        block = b"\0" * (1 << 20)
        for _ in range(1024):
            f.write(block)
PYEOF
expect "ingest archives (the bomb fails: exit 1)" 1 "$MAST" ingest "$WORK/arch" -c arch
check "… the bomb refused, naming the limit" contains "$ERR" "bomb.zip: refused: expands to more than"
check "… the binary entry skipped" contains "$ERR" "docs.zip!/data.bin: skipped: not a text file"
check "… two archives ingested, the bomb failed" contains "$ERR" "files 3 seen, 2 ingested, 0 unchanged, 0 skipped, 1 failed; documents 3 ingested"
expect "search inside the zip" 0 "$MAST" search "otters juggle" -c arch --json
check "… its uri names the entry" contains "$OUT" "docs.zip!/guide/intro.md"
expect "search a zip inside the zip" 0 "$MAST" search "badger" -c arch --json
check "… found through both" contains "$OUT" "docs.zip!/inner.zip!/deep.txt"
expect "search the tar.gz" 0 "$MAST" search "heron feathers" -c arch --json
check "… found" contains "$OUT" "more.tar.gz!/notes/heron.txt"
expect "hidden entries are not read" 0 "$MAST" search "never read" -c arch --json
check "… like hidden files" test "$OUT" = "[]"
# a real tarball without the ustar magic (V7 headers), xz'd: bash-doc's bash-completion-2.5
TARXZ=/usr/share/doc/bash/examples/bash-completion/bash-completion-2.5.tar.xz
expect "ingest Debian's bash-completion tarball (.tar.xz, V7 tar headers)" 0 "$MAST" ingest "$TARXZ" -c tarxz
expect "search its README.md" 0 "$MAST" search "easiest way to install this software is to use a package" -c tarxz --json
check "… found inside the tarball, read as Markdown" contains "$OUT" '"uri": "'"$TARXZ"'!/bash-completion-2.5/README.md",
    "title": "bash-completion",
    "heading": "bash-completion > Installation"'
rm "$WORK/arch/more.tar.gz" "$WORK/arch/bomb.zip"
expect "re-ingest with --prune" 0 "$MAST" ingest "$WORK/arch" -c arch --prune
check "… the vanished archive's document pruned, the zip's unchanged" contains "$ERR" "2 unchanged"
check "… one pruned" contains "$ERR" "pruned 1 document whose source is gone"

# ---- encodings: UTF-16 with and without a byte-order mark
py "$WORK" <<'PYEOF'
import sys
d = sys.argv[1]
t = "Le caf\u00e9 cr\u00e8me co\u00fbte 3 \u20ac \U0001F642 au march\u00e9 de No\u00ebl.\n"
open(d + "/utf16le.txt", "wb").write(b"\xff\xfe" + t.encode("utf-16-le"))
open(d + "/utf16be.txt", "wb").write(b"\xfe\xff" + t.replace("Le", "Un").encode("utf-16-be"))
open(d + "/nobom.txt", "wb").write(t.replace("Le", "Ce").encode("utf-16-le"))
PYEOF
for f in utf16le utf16be nobom; do
  expect "UTF-16 $f is read" 0 "$MAST" ingest "$WORK/$f.txt" -c enc
done
check "… with a note" contains "$ERR" "nobom.txt: UTF-16LE (detected): converted to UTF-8"
expect "search UTF-16 text" 0 "$MAST" search "café crème" -c enc --json
py "$OUT" >"$WORK/enc.txt" <<'PYEOF'
import json, sys
print(sorted(r["text"] for r in json.loads(sys.argv[1])))
PYEOF
check "… round-trips to the right UTF-8" test "$(cat "$WORK/enc.txt")" = \
  "['Ce café crème coûte 3 € 🙂 au marché de Noël.', 'Le café crème coûte 3 € 🙂 au marché de Noël.', 'Un café crème coûte 3 € 🙂 au marché de Noël.']"

# ---- PDF: bash-doc's Bash Reference Manual (installed by scripts/setup), poppler's
# pdftotext as the oracle of which page a passage is on
REF=/usr/share/doc/bash/bashref.pdf
expect "ingest a real PDF manual" 0 "$MAST" ingest "$REF" -c pdf
check "… as one document" contains "$ERR" "1 ingested, 0 unchanged, 0 skipped, 0 failed"
check "… its pages counted in the summary" contains "$ERR" "; 196 PDF pages, "
expect "search it" 0 "$MAST" search "the process ID of the shell spawned to execute the coprocess" -c pdf --json
py "$OUT" >"$WORK/pdf-hit.txt" <<'PYEOF'
import json, sys
r = json.loads(sys.argv[1])[0]
print(r["title"], "|", r["heading"], "|", r["page_start"])
PYEOF
PAGE="$(for p in $(seq 20 30); do pdftotext -f "$p" -l "$p" "$REF" - | grep -q "spawned to execute the coprocess" && echo "$p"; done | head -1)"
check "… its title, the section's heading path and the page pdftotext finds it on ($PAGE)" \
  test "$(cat "$WORK/pdf-hit.txt")" = \
  "Bash Reference Manual | Bash Reference Manual > 3 Basic Shell Features > 3.2 Shell Commands > 3.2.6 Coprocesses | $PAGE"
expect "documents list -c pdf --json" 0 "$MAST" documents list -c pdf --json
check "… its page count in the metadata" contains "$OUT" '"pages": 196'
expect "ask it" 0 "$MAST" ask "what does the shopt builtin do" -c pdf --json
check "… citations carry pages" contains "$OUT" '"page_start"'
# page 9 cuts "Redirec-tions" where a line of monospaced text ends: a paragraph break,
# across which the word is joined all the same
expect "search the word hyphenated across a paragraph break" 0 "$MAST" search "redirection operator" -c pdf --json
check "… it is joined" contains "$OUT" '[Redirections], page 38, for a list of redirection operators'
check "… and not left cut" eval '! contains "$OUT" "[Redirec-"'

# a PDF of known structure: headings by size, a hyphenated word, a running header
# and page numbers, two columns, a page without text
python3 "$(dirname "$0")/data/make_pdf.py" structured "$WORK/widget.pdf"
expect "ingest a PDF of known structure" 0 "$MAST" ingest "$WORK/widget.pdf" -c widget --chunk-tokens 400
check "… its page without text reported" contains "$ERR" "widget.pdf: 1 of 4 pages have no text layer (scanned?)"
expect "… its chunks" 0 "$MAST" documents show "$WORK/widget.pdf" -c widget --chunks --json
py "$OUT" >"$WORK/widget.txt" <<'PYEOF'
import json, sys
d = json.loads(sys.argv[1])
print(d["title"], "|", d["metadata"]["author"], "|", d["metadata"]["pages"])
for c in d["chunk_list"]:
    print(c["heading"], "|", c["text"].replace("\n\n", " / "))
PYEOF
check "… headings, reading order, joined hyphenation, no running header or page numbers" \
  test "$(cat "$WORK/widget.txt")" = "The Widget Book | Ada Tester | 4
The Widget Book > 1 Assembly | Attach the flange to the base plate and tighten the bolts with an ordinary wrench, then check that the widget spins freely.
The Widget Book > 2 Maintenance | Oil the spindle every month with light machine oil.
The Widget Book > 3 Troubleshooting | Left column first: a widget that hums needs its bearings replaced soon. / Left column again: the hum fades once the new bearings settle in. / Right column second: a widget that rattles has a loose flange bolt. / Right column again: tighten it and the rattle stops at once. / Spare parts are listed on the last page of this book."
expect "search across its pages" 0 "$MAST" search "rattle spare parts" -c widget --json
check "… the chunk spans pages 2-3" contains "$OUT" '"page_start": 2,
    "page_end": 3'

# tables in a PDF's text layer: a three-column table with a bold header and a
# wrapped cell, a two-column one of short cells, and a definition list that is none
python3 "$(dirname "$0")/data/make_pdf.py" tables "$WORK/tables.pdf"
expect "ingest a PDF with tables" 0 "$MAST" ingest "$WORK/tables.pdf" -c pdftables --chunk-tokens 400
expect "… its chunks" 0 "$MAST" documents show "$WORK/tables.pdf" -c pdftables --chunks --json
py "$OUT" >"$WORK/tables.txt" <<'PYEOF'
import json, sys
for c in json.loads(sys.argv[1])["chunk_list"]:
    print(c["heading"], "|", c["text"].replace("\n\n", " / ").replace("\n", " // "))
PYEOF
check "… rows with cells named by the header, a wrapped cell joined, the definition list left as text" \
  test "$(cat "$WORK/tables.txt")" = "Parts and tools | The parts below ship in one box; check them before you start. / Part: flange; Count: 2; Use: holds the base plate // Part: bolt; Count: 12; Use: fixes the flange // Part: spindle; Count: 1; Use: turns the widget on its bearings / Tools you need: / wrench; 10 mm // screwdriver; PH2 // hex key; 4 mm / Options of the widget’s controller: -v prints every step the controller takes while it runs, so that a failure can be traced to its cause. / -q prints nothing at all, not even the errors it meets, which is only wise when another log is kept. / Keep this page with the widget."

# hostile PDFs: one that keeps the reader busy is stopped at the limit; junk is an error
python3 "$(dirname "$0")/data/make_pdf.py" slow "$WORK/hostile/slow.pdf" 2>/dev/null ||
  { mkdir -p "$WORK/hostile" && python3 "$(dirname "$0")/data/make_pdf.py" slow "$WORK/hostile/slow.pdf"; }
printf '%%PDF-1.7\nthis is not really a PDF at all\n' > "$WORK/hostile/junk.pdf"
cp "$WORK/widget.pdf" "$WORK/hostile/fine.pdf"
expect "a PDF that keeps its reader busy (exit 1: it failed)" 1 "$MAST" ingest "$WORK/hostile" -c hostile --pdf-timeout 1
# on a loaded machine the wall-clock limit (twice the CPU limit) may come first
check "… is stopped at its CPU or wall-clock limit, named" eval 'contains "$ERR" "slow.pdf: the PDF reader used more than 1 s of CPU (the limit; --pdf-timeout) and was stopped" || contains "$ERR" "slow.pdf: the PDF reader took more than 2 s (the wall-clock limit; --pdf-timeout) and was stopped"'
check "… junk is a clear error" contains "$ERR" "junk.pdf:"
check "… and the good one is still ingested" contains "$ERR" "files 3 seen, 1 ingested"
MAST_PDF_HELPER=/nonexistent/mast-pdf expect "without the PDF reader" 1 "$MAST" ingest "$WORK/widget.pdf" -c nohelper
check "… the error says what is missing" contains "$ERR" "reading PDFs needs the mast-pdf program"

# ---- CSV and TSV: RFC 4180 quoting, the file one table or a document per row
mkdir -p "$WORK/csv"
printf 'id,name,year,bio,dept\n1,Ada Lovelace,1843,"Wrote the first ""program"",\nfor the Engine",math\n2,Charles Babbage,1837,Designed the Analytical Engine,eng\n\n3,,,,\n' > "$WORK/csv/people.csv"
printf 'planet\tmoons\nMars\t2\nJupiter\t95\n' > "$WORK/csv/moons.tsv"
printf 'id,text\n1,"this quote never closes\n2,fine\n' > "$WORK/csv/bad.csv"
expect "ingest CSV and TSV tables (the broken one fails: exit 1)" 1 "$MAST" ingest "$WORK/csv" -c tables
check "… the unbalanced quote named with its line" contains "$ERR" "bad.csv: line 2: a quoted field never closes (an unbalanced quote)"
check "… the two tables ingested" contains "$ERR" "files 3 seen, 2 ingested, 0 unchanged, 0 skipped, 1 failed"
expect "search a table row" 0 "$MAST" search "moons of Jupiter" -c tables --json
check "… a row with its cells named" contains "$OUT" "planet: Jupiter; moons: 95"
expect "search a quoted field" 0 "$MAST" search "first program" -c tables --json
check "… quotes and the line break inside it kept" contains "$OUT" 'bio: Wrote the first \"program\",\nfor the Engine'
expect "a document per row" 0 "$MAST" ingest "$WORK/csv/people.csv" -c rows --id-column id --title-column name --metadata-columns dept,year
check "… the empty row skipped, named by its line" contains "$ERR" "people.csv: line 6: skipped: an empty row"
expect "… each row listed" 0 "$MAST" documents list -c rows --json
py "$OUT" >"$WORK/rows.txt" <<'PYEOF'
import json, sys
for d in json.loads(sys.argv[1])["data"]:
    m = d["metadata"]
    print(d["id"].rsplit("/", 1)[1], "|", d["title"], "|", m["dept"], m["year"], m["line"])
PYEOF
check "… uri FILE#ID, the title column, metadata columns and the line" test "$(cat "$WORK/rows.txt")" = \
  "people.csv#1 | Ada Lovelace | math 1843 2
people.csv#2 | Charles Babbage | eng 1837 4"
expect "an unknown column" 1 "$MAST" ingest "$WORK/csv/people.csv" -c rows --id-column key
check "… is named with the file's columns" contains "$ERR" "no column 'key' (its columns: id, name, year, bio, dept)"
expect "column options without --id-column" 2 "$MAST" ingest "$WORK/csv/people.csv" --title-column name

# ---- DOCX, ODT, EPUB, PPTX: pandoc (from Debian) writes one Markdown file of known
# structure in each; headings, lists, the table's rows and the footnote are asserted
mkdir -p "$WORK/office"
cat > "$WORK/office/src.md" <<'MDEOF'
---
title: The Widget Handbook
author: Ada Tester
---

# Assembly

Attach the flange to the base plate.[^1]

- first bullet
- second bullet

## Tools

| Tool | Size |
|------|------|
| wrench | 10 mm |
| screwdriver | PH2 |

# Maintenance

Oil the spindle every month.

[^1]: Use the long bolts.
MDEOF
for f in docx odt epub pptx; do pandoc "$WORK/office/src.md" -s -o "$WORK/office/w.$f"; done
rm "$WORK/office/src.md"
expect "ingest DOCX, ODT, EPUB and PPTX" 0 "$MAST" ingest "$WORK/office" -c office
check "… four documents" contains "$ERR" "files 4 seen, 4 ingested"
for f in docx odt epub pptx; do
  expect "… $f's chunks" 0 "$MAST" documents show "$WORK/office/w.$f" -c office --chunks --json
  py "$OUT" >"$WORK/office-$f.txt" <<'PYEOF'
import json, sys
d = json.loads(sys.argv[1])
print(d["title"], "|", d["metadata"]["author"], "|", d["metadata"]["format"])
for c in d["chunk_list"]:
    print(c["heading"], "|", c["text"].replace("\n\n", " / ").replace("\n", " // "))
PYEOF
done
check "DOCX: styles as headings, list items, the table's rows named by header, footnotes" \
  test "$(cat "$WORK/office-docx.txt")" = "The Widget Handbook | Ada Tester | docx
Assembly | Attach the flange to the base plate. / - first bullet / - second bullet
Assembly > Tools | Tool: wrench; Size: 10 mm // Tool: screwdriver; Size: PH2
Maintenance | Oil the spindle every month.
Footnotes | Use the long bolts."
check "ODT: the same structure" \
  test "$(cat "$WORK/office-odt.txt")" = "The Widget Handbook | Ada Tester | odt
Assembly | Attach the flange to the base plate. / - first bullet / - second bullet
Assembly > Tools | Tool: wrench; Size: 10 mm // Tool: screwdriver; Size: PH2
Maintenance | Oil the spindle every month.
Notes | Use the long bolts."
check "EPUB: chapters in spine order, their headings, the table" \
  contains "$(cat "$WORK/office-epub.txt")" "The Widget Handbook | Ada Tester | epub
The Widget Handbook | Ada Tester
Assembly | Attach the flange to the base plate.1 / - first bullet / - second bullet
Assembly > Tools | Tool: wrench; Size: 10 mm // Tool: screwdriver; Size: PH2"
check "PPTX: a section per slide, titled by the slide's title" \
  test "$(sed -n 1,4p "$WORK/office-pptx.txt" | cut -d'|' -f1-2)" = "The Widget Handbook | Ada Tester 
The Widget Handbook | Ada Tester
Assembly | Attach the flange to the base plate.1 // first bullet // second bullet // Tools // Tool // Size // wrench // 10 mm // screwdriver // PH2
Maintenance | Oil the spindle every month."
# a DOCX with its main part missing, and a zip bomb named .docx: clear errors, nothing else lost
mkdir -p "$WORK/office-bad"
py "$WORK/office" "$WORK/office-bad" <<'PYEOF'
import sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(src + "/w.docx") as z, zipfile.ZipFile(dst + "/broken.docx", "w") as out:
    for i in z.infolist():
        if i.filename != "word/document.xml":
            out.writestr(i, z.read(i))
with zipfile.ZipFile(dst + "/bomb.docx", "w", zipfile.ZIP_DEFLATED) as z:
    with z.open("word/document.xml", "w", force_zip64=True) as f:
        for _ in range(400):
            f.write(b" " * (1 << 20))
PYEOF
cp "$WORK/office/w.odt" "$WORK/office-bad/fine.odt"
expect "a DOCX with a missing part (exit 1)" 1 "$MAST" ingest "$WORK/office-bad" -c officebad
check "… names the part" contains "$ERR" "broken.docx: no word/document.xml: not a Word document, or a part is missing"
check "… the bomb is refused" contains "$ERR" "bomb.docx: refused: expands to more than"
check "… and the good one is ingested" contains "$ERR" "files 3 seen, 1 ingested, 0 unchanged, 0 skipped, 2 failed"

# ---- XLSX and ODS: written by XlsxWriter, openpyxl and odfpy (Debian's
# python3-xlsxwriter, -openpyxl, -odf); a section per sheet, a block per row
mkdir -p "$WORK/sheets"
/usr/bin/python3 "$(dirname "$0")/data/make_sheets.py" "$WORK/sheets"
expect "ingest XLSX and ODS" 0 "$MAST" ingest "$WORK/sheets" -c sheets
check "… three workbooks" contains "$ERR" "files 3 seen, 3 ingested"
for f in staff.xlsx mac.xlsx stock.ods; do
  expect "… $f's chunks" 0 "$MAST" documents show "$WORK/sheets/$f" -c sheets --chunks --json
  py "$OUT" >"$WORK/sheet-$f.txt" <<'PYEOF'
import json, sys
d = json.loads(sys.argv[1])
print(d["title"], "|", d["metadata"].get("author", ""), "|", d["metadata"]["format"])
for c in d["chunk_list"]:
    print(c["heading"], "|", c["text"].replace("\n\n", " / "))
PYEOF
done
check "XLSX: caption, header-named cells, ISO dates and times, percentages, booleans, cached formula values, shared and rich strings; the chart sheet left out" \
  test "$(cat "$WORK/sheet-staff.xlsx.txt")" = "Staff register | Ada Tester | xlsx
Staff | Staff list, spring 2024 / Name: Ada Lovelace; Born: 1915-12-10; Started: 2024-03-15 09:30; Lunch: 12:45:30; Share: 25%; Active: TRUE; Check: #N/A; Total: 3 / Name: Charles Babbage; Born: 1900-02-28; Share: 12.5%; Active: FALSE / Name: Grace Hopper; Share: 1234567.891
Prices | 19.99; 5; per unit / 0.3; 7; per box"
check "XLSX: the 1904 date system, and a date before 1900" \
  test "$(cat "$WORK/sheet-mac.xlsx.txt")" = "mac | openpyxl | xlsx
Dates | Event: launch; When: 2001-02-03 / Event: Lovelace born; When: 1815-12-10"
check "ODS: repeated rows and cells expanded, comments left out, the empty sheet and a million empty rows nothing" \
  test "$(cat "$WORK/sheet-stock.ods.txt")" = "stock |  | ods
Stock | Item: widget; Count: 3; Price: 2.50 / Item: bolt; Price: 0.10 / Item: nut; Count: 7; Price: 0.05 / Item: nut; Count: 7; Price: 0.05 / Item: gap; 1"
expect "… a row found by a cell's value" 0 "$MAST" search "Babbage" -c sheets --json
check "… in the Staff sheet of the workbook" contains "$OUT" '"heading": "Staff"'
# a workbook without its workbook part, a sheet that is not XML, and an ODS
# whose repeated rows would expand to 100 million cells: errors and a warning
mkdir -p "$WORK/sheets-bad"
py "$WORK/sheets" "$WORK/sheets-bad" <<'PYEOF'
import sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(src + "/staff.xlsx") as z:
    with zipfile.ZipFile(dst + "/nobook.xlsx", "w") as out:
        for i in z.infolist():
            if i.filename != "xl/workbook.xml":
                out.writestr(i.filename, z.read(i))
    with zipfile.ZipFile(dst + "/badsheet.xlsx", "w") as out:
        for i in z.infolist():
            data = z.read(i)
            if i.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]
            out.writestr(i.filename, data)
PYEOF
/usr/bin/python3 - "$WORK/sheets-bad/huge.ods" <<'PYEOF'
import sys
from odf.opendocument import OpenDocumentSpreadsheet
from odf.table import Table, TableRow, TableCell
from odf.text import P
doc = OpenDocumentSpreadsheet()
t = Table(name="Huge")
tr = TableRow(numberrowsrepeated=1000000)
c = TableCell(valuetype="string", numbercolumnsrepeated=100)
c.addElement(P(text="x"))
tr.addElement(c)
t.addElement(tr)
doc.spreadsheet.addElement(t)
doc.save(sys.argv[1])
PYEOF
expect "broken workbooks (exit 1)" 1 "$MAST" ingest "$WORK/sheets-bad" -c sheetsbad
check "… names the missing part" contains "$ERR" "nobook.xlsx: no xl/workbook.xml: not an Excel workbook, or a part is missing"
check "… names the part that is not XML" contains "$ERR" "badsheet.xlsx: xl/worksheets/sheet1.xml is not well-formed XML"
check "… the expanding ODS is cut at the cell budget, named" contains "$ERR" "huge: stopped after 2000000 cells; the rest is left out"
check "… and ingested as far as the budget" contains "$ERR" "files 3 seen, 1 ingested, 0 unchanged, 0 skipped, 2 failed"

# a legacy (OLE2) Office file is named as one, not just "not a text file"
mkdir -p "$WORK/ole"
printf '\320\317\021\340\241\261\032\341' > "$WORK/ole/old.xls"
head -c 4096 /dev/zero >> "$WORK/ole/old.xls"
expect "a legacy .xls (exit 1: nothing ingested)" 1 "$MAST" ingest "$WORK/ole" -c ole
check "… is named as a legacy Office file, with what to do" contains "$ERR" "old.xls: skipped: a legacy Microsoft Office file (OLE2: .doc, .xls, .ppt, .msg, or a password-protected document), which mast does not read; save it as .docx, .xlsx or .pptx"

# ---- e-mail: a MIME message written by Python's email package (plain and HTML
# alternatives, an encoded subject, a CSV and a binary attachment), and an mbox
mkdir -p "$WORK/mail"
py "$WORK/mail" <<'PYEOF'
import mailbox, sys
from email.message import EmailMessage
d = sys.argv[1]
m = EmailMessage()
m["From"] = "Ada Lovelace <ada@example.org>"
m["To"] = "Charles Babbage <charles@example.org>"
m["Subject"] = "Notes on the Engine \u2014 r\u00e9sum\u00e9"
m["Date"] = "Mon, 01 Dec 2025 10:00:00 +0000"
m["Message-ID"] = "<note-1@example.org>"
m.set_content("The engine computes Bernoulli numbers.\n\nSee the attached table.\n")
m.add_alternative("<html><body><p>The HTML alternative is not read</p></body></html>", subtype="html")
m.add_attachment("n,B(n)\n0,1\n1,-1/2\n2,1/6\n", filename="bernoulli.csv")
m.add_attachment(b"\x00\x01binary", maintype="application", subtype="octet-stream", filename="blob.bin")
open(d + "/note.eml", "wb").write(bytes(m))
box = mailbox.mbox(d + "/list.mbox")
for i in range(3):
    x = EmailMessage()
    x["From"], x["Subject"], x["Date"] = "bob@example.org", f"Message {i}", "Tue, 02 Dec 2025 10:00:00 +0000"
    x.set_content(f"Body number {i} about walruses.\nFrom the sea they come.\n")   # quoted ">From" in the file
    box.add(x)
box.flush()
PYEOF
expect "ingest an e-mail and a mailbox" 0 "$MAST" ingest "$WORK/mail" -c mail
check "… the binary attachment skipped, named" contains "$ERR" "note.eml!/blob.bin: skipped: not a text file"
check "… three messages, the e-mail and its CSV attachment" contains "$ERR" "documents 5 ingested"
expect "… listed" 0 "$MAST" documents list -c mail --json
py "$OUT" >"$WORK/mail.txt" <<'PYEOF'
import json, sys
for d in sorted(json.loads(sys.argv[1])["data"], key=lambda d: d["id"]):
    m = d["metadata"]
    print(d["id"].split("/mail/")[1], "|", d["title"], "|", m["format"], "|", m.get("author", ""), "|", m.get("to", ""), "|", m.get("message_id", ""))
PYEOF
check "… subjects as titles, headers as metadata, a document per mbox message" \
  test "$(cat "$WORK/mail.txt")" = "list.mbox#1 | Message 0 | email | bob@example.org |  | 
list.mbox#2 | Message 1 | email | bob@example.org |  | 
list.mbox#3 | Message 2 | email | bob@example.org |  | 
note.eml | Notes on the Engine — résumé | email | Ada Lovelace <ada@example.org> | Charles Babbage <charles@example.org> | <note-1@example.org>
note.eml!/bernoulli.csv | bernoulli | csv |  |  | "
check "… the mbox has its body's From line quoted" grep -q '^>From the sea they come.' "$WORK/mail/list.mbox"
expect "search a message of the mbox" 0 "$MAST" search "walruses sea" -c mail --json
check "… the From line unquoted" contains "$OUT" 'walruses.\nFrom the sea they come.'
check "… no quoting left" eval '! contains "$OUT" ">From the sea"'
expect "search the message" 0 "$MAST" search "Bernoulli numbers" -c mail --json
check "… its plain text, not the HTML alternative" contains "$OUT" "The engine computes Bernoulli numbers."
expect "… the HTML alternative" 0 "$MAST" search "HTML alternative" -c mail --json
check "… is not read" test "$OUT" = "[]"

# ---- contextual chunk headers: the heading path is embedded with the chunk's text,
# so two sections with the same words under different headings get different vectors
printf '# Cats\n\nThey sleep most of the day.\n\n# Dogs\n\nThey sleep most of the day.\n' > "$WORK/pets.md"
expect "a collection with an embedding model" 0 "$MAST" collection create pets --embed "$DATA/models/tiny-bert-random.gguf"
expect "ingest two sections with the same text" 0 "$MAST" ingest "$WORK/pets.md" -c pets --chunk-tokens 16
expect "dense search" 0 "$MAST" search "sleep" -c pets --mode dense --json
py "$OUT" >"$WORK/pets.txt" <<'PYEOF'
import json, sys
r = json.loads(sys.argv[1])
print(len(r), sorted(x["heading"] for x in r), r[0]["text"] == r[1]["text"], r[0]["score"] != r[1]["score"])
PYEOF
check "… their vectors differ by their headings (the stored texts are the same)" \
  test "$(cat "$WORK/pets.txt")" = "2 ['Cats', 'Dogs'] True True"

# ---- a file that changes while it is read: read again; one that keeps changing fails
# alone, named, and nothing torn is stored
mkdir -p "$WORK/changing"
head -c 15000000 /dev/urandom | base64 -w 100 > "$WORK/changing/growing.txt"
echo "A quiet file that stays the same." > "$WORK/changing/quiet.txt"
# two writers, so that one always runs even on a loaded machine
( while :; do echo "appended while being read" >> "$WORK/changing/growing.txt"; done ) &
WRITER=$!
( while :; do echo "appended while being read" >> "$WORK/changing/growing.txt"; done ) &
WRITER2=$!
sleep 0.3
expect "ingest a folder with a file being written" 1 "$MAST" ingest "$WORK/changing" -c changing
kill "$WRITER" "$WRITER2"; wait "$WRITER" "$WRITER2" 2>/dev/null
check "… the changing file fails, named" contains "$ERR" "growing.txt: failed: it kept changing while it was read (3 times)"
check "… the quiet one is ingested" contains "$ERR" "files 2 seen, 1 ingested, 0 unchanged, 0 skipped, 1 failed"
expect "… and once it is written, it is ingested" 0 "$MAST" ingest "$WORK/changing" -c changing
check "… whole" contains "$ERR" "files 2 seen, 1 ingested, 1 unchanged"

finish
