"""Readable output: section headings, notes and fixed-width tables."""

import sys

MAX_CELL = 40


def heading(text):
    print(f"\n== {text}", flush=True)


def note(text=""):
    print(f"   {text}", flush=True)


def cell(value):
    text = "-" if value is None else str(value)
    return text if len(text) <= MAX_CELL else text[:MAX_CELL - 1] + "~"


def table(headers, rows):
    """Prints rows (lists of cells) under headers, each column as wide as its widest cell."""
    cells = [[cell(h) for h in headers]] + [[cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    line = lambda row: "   " + "  ".join(text.ljust(width) for text, width in zip(row, widths)).rstrip()
    print(line(cells[0]))
    print(line(["-" * width for width in widths]))
    for row in cells[1:]:
        print(line(row))
    sys.stdout.flush()


def money(value):
    """A decimal as the canonical text with two places ("120000.00"), or None."""
    if value is None or value == "":
        return None
    return f"{float(value):.2f}"
