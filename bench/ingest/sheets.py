#!/usr/bin/python3
"""Spreadsheets: mast's XLSX and ODS readers against the Python libraries people read them with.

    /usr/bin/python3 bench/ingest/sheets.py [--mast build/mast] [--rows 200000]

Writes (into a temporary folder) an orders workbook of N rows x 5 columns (an integer id,
a customer name, a date, an amount, a status), as XLSX with XlsxWriter (shared strings,
as Excel writes them) and as ODS with odfpy (N/10 rows: odfpy is slow to write), then:

  - mast: `mast ingest FILE` into a fresh store, no embedding model (read, chunked,
    BM25-indexed and stored), best of 3, with its peak resident memory;
  - openpyxl (read_only=True, values_only=True): iterating the cell values, nothing else,
    best of 3, with peak memory;
  - odfpy (for ODS): loading the document and walking its cells' text, best of 1.

Needs Debian's python3-xlsxwriter, python3-openpyxl and python3-odf (scripts/setup).
Prints a Markdown table.
"""
import argparse
import datetime
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write_xlsx(path, rows):
    import xlsxwriter
    wb = xlsxwriter.Workbook(path)   # shared strings, as Excel writes them
    ws = wb.add_worksheet("Orders")
    day = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.write_row(0, 0, ["Order", "Customer", "Date", "Amount", "Status"])
    start = datetime.datetime(2020, 1, 1)
    for i in range(1, rows + 1):
        ws.write_number(i, 0, i)
        ws.write_string(i, 1, "customer %d" % (i % 5000))
        ws.write_datetime(i, 2, start + datetime.timedelta(days=i % 1500), day)
        ws.write_number(i, 3, (i * 37 % 10000) / 100)
        ws.write_string(i, 4, ("open", "paid", "shipped")[i % 3])
    wb.close()


def write_ods(path, rows):
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableRow, TableCell
    from odf.text import P
    doc = OpenDocumentSpreadsheet()
    t = Table(name="Orders")

    def cell(v, kind="string", value=None):
        c = TableCell(valuetype=kind, value=value) if value is not None else TableCell(valuetype=kind)
        c.addElement(P(text=str(v)))
        return c
    head = TableRow()
    for h in ["Order", "Customer", "Date", "Amount", "Status"]:
        head.addElement(cell(h))
    t.addElement(head)
    for i in range(1, rows + 1):
        r = TableRow()
        amount = (i * 37 % 10000) / 100
        for c in (cell(i, "float", i), cell("customer %d" % (i % 5000)),
                  cell("2020-01-%02d" % (1 + i % 28)), cell("%.2f" % amount, "float", amount),
                  cell(("open", "paid", "shipped")[i % 3])):
            r.addElement(c)
        t.addElement(r)
    doc.spreadsheet.addElement(t)
    doc.save(path)


def run(cmd):
    """Seconds and peak RSS (MB) of a child process (GNU time's %M)."""
    with tempfile.NamedTemporaryFile("r") as f:
        t = time.perf_counter()
        subprocess.run(["/usr/bin/time", "-o", f.name, "-f", "%M"] + cmd, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        dt = time.perf_counter() - t
        return dt, int(f.read().split()[-1]) / 1024


def best(n, f):
    return min((f() for _ in range(n)), key=lambda r: r[0])


OPENPYXL = """
import sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1], read_only=True)
n = 0
for ws in wb.worksheets:
    for row in ws.iter_rows(values_only=True):
        n += 1
"""
ODFPY = """
import sys
from odf.opendocument import load
from odf.table import TableRow, TableCell
from odf import teletype
doc = load(sys.argv[1])
n = 0
for row in doc.spreadsheet.getElementsByType(TableRow):
    for c in row.getElementsByType(TableCell):
        teletype.extractText(c)
    n += 1
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mast", default=os.path.join(ROOT, "build", "mast"))
    ap.add_argument("--rows", type=int, default=200000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        xlsx, ods = os.path.join(tmp, "orders.xlsx"), os.path.join(tmp, "orders.ods")
        write_xlsx(xlsx, a.rows)
        write_ods(ods, a.rows // 10)

        def mast(path):
            db = os.path.join(tmp, "m.db")
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(db + suffix):
                    os.remove(db + suffix)
            subprocess.run(["rm", "-rf", db + ".idx"])
            return run([a.mast, "ingest", path, "-c", "bench", "--db", db])
        print("| file | rows | MB | reader | seconds | rows/s | peak MB |")
        print("|---|---:|---:|---|---:|---:|---:|")
        for path, rows, peers in ((xlsx, a.rows, [("openpyxl read-only", OPENPYXL, 3)]),
                                  (ods, a.rows // 10, [("odfpy", ODFPY, 1)])):
            mb = os.path.getsize(path) / 1e6
            results = [("mast ingest", best(3, lambda: mast(path)))]
            for name, code, n in peers:
                results.append((name, best(n, lambda: run([sys.executable, "-c", code, path]))))
            for name, (sec, peak) in results:
                print("| %s | %d | %.1f | %s | %.2f | %.0f | %.0f |" % (
                    os.path.basename(path), rows, mb, name, sec, rows / sec, peak))
            print("| | | | mast / %s | %.1fx faster | | |" % (
                results[1][0], results[1][1][0] / results[0][1][0]))


if __name__ == "__main__":
    main()
