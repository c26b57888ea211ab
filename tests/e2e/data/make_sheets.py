#!/usr/bin/python3
"""tests/e2e/data/make_sheets.py DIR — spreadsheets of a known content, written
by the libraries people write them with (XlsxWriter and openpyxl for XLSX,
odfpy for ODS),
for tests/e2e/formats.sh:
  DIR/staff.xlsx    (XlsxWriter: shared strings, as Excel writes them) a caption
                    over a header row; text, rich text, dates, date-times, times,
                    percentages, booleans, formulas' cached values, an error
                    value; a second sheet with no header (numbers first); a
                    chart sheet
  DIR/mac.xlsx      (openpyxl: inline strings) the 1904 date system, a date
                    before 1900
  DIR/stock.ods     a header row, repeated cells and rows, a comment in a cell,
                    a trailing empty row repeated a million times
"""
import datetime, sys

import openpyxl
import xlsxwriter
from openpyxl.utils.datetime import CALENDAR_MAC_1904
from odf.opendocument import OpenDocumentSpreadsheet
from odf.office import Annotation
from odf.table import Table, TableRow, TableCell
from odf.text import P

out = sys.argv[1]

wb = xlsxwriter.Workbook(out + "/staff.xlsx")   # shared strings, as Excel writes them
wb.set_properties({"title": "Staff register", "author": "Ada Tester"})
ws = wb.add_worksheet("Staff")
day = wb.add_format({"num_format": "yyyy-mm-dd"})
stamp = wb.add_format({"num_format": "dd/mm/yyyy hh:mm"})
clock = wb.add_format({"num_format": "hh:mm:ss"})
share = wb.add_format({"num_format": "0.0%"})
bold = wb.add_format({"bold": True})
ws.write_row(0, 0, ["Staff list, spring 2024"])
ws.write_row(1, 0, ["Name", "Born", "Started", "Lunch", "Share", "Active", "Check", "Total"])
ws.write_string(2, 0, "Ada Lovelace")
ws.write_datetime(2, 1, datetime.datetime(1915, 12, 10), day)
ws.write_datetime(2, 2, datetime.datetime(2024, 3, 15, 9, 30), stamp)
ws.write_datetime(2, 3, datetime.datetime(1899, 12, 31, 12, 45, 30), clock)
ws.write_number(2, 4, 0.25, share)
ws.write_boolean(2, 5, True)
ws.write_formula(2, 6, "=NA()", None, "#N/A")
ws.write_formula(2, 7, "=1+2", None, 3)
ws.write_rich_string(3, 0, "Charles ", bold, "Babbage")
ws.write_datetime(3, 1, datetime.datetime(1900, 2, 28), day)
ws.write_number(3, 4, 0.125, share)
ws.write_boolean(3, 5, False)
ws.write_string(4, 0, "Grace\nHopper")     # a line break inside a cell
ws.write_number(4, 4, 1234567.891)
ws2 = wb.add_worksheet("Prices")
ws2.write_row(0, 0, [19.99, 5, "per unit"])
ws2.write_row(1, 0, [0.1 + 0.2, 7, "per box"])
chart = wb.add_chart({"type": "line"})
chart.add_series({"values": "=Prices!$A$1:$A$2"})
wb.add_chartsheet("Chart").set_chart(chart)
wb.close()

wb = openpyxl.Workbook()
wb.epoch = CALENDAR_MAC_1904
wb.active.title = "Dates"
wb.active.append(["Event", "When"])
wb.active.append(["launch", datetime.date(2001, 2, 3)])
wb.active.append(["Lovelace born", datetime.date(1815, 12, 10)])
wb.save(out + "/mac.xlsx")

doc = OpenDocumentSpreadsheet()
t = Table(name="Stock")
def row(*cells, repeat=None):
    tr = TableRow(numberrowsrepeated=repeat) if repeat else TableRow()
    for c in cells:
        tr.addElement(c)
    t.addElement(tr)
def text(s, **kw):
    c = TableCell(valuetype="string", **kw)
    for line in s.split("\n"):
        c.addElement(P(text=line))
    return c
def num(v, shown, **kw):
    c = TableCell(valuetype="float", value=v, **kw)
    c.addElement(P(text=shown))
    return c
row(text("Item"), text("Count"), text("Price"))
widget = text("widget")
note = Annotation()
note.addElement(P(text="check the count"))
widget.addElement(note)
row(widget, num(3, "3"), num(2.5, "2.50"))
row(text("bolt"), TableCell(numbercolumnsrepeated=1), num(0.1, "0.10"))
row(text("nut"), num(7, "7"), num(0.05, "0.05"), repeat=2)
row(text("gap"), TableCell(numbercolumnsrepeated=16000), num(1, "1"))
row(TableCell(numbercolumnsrepeated=1024), repeat=1048000)
doc.spreadsheet.addElement(t)
t2 = Table(name="Empty")
doc.spreadsheet.addElement(t2)
doc.save(out + "/stock.ods")
