"""The fixed parts of an .xlsx package, written once the sheets are done.

Content types, relationships, workbook (sheet list, the autofilter and print-title names), styles
(the cell formats ``xlsx.py`` refers to by index) and document properties.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"

#: The characters XML 1.0 cannot carry (most C0 controls, lone surrogates, U+FFFE/F).
ILLEGAL_XML_CHARS = "\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff"
ILLEGAL_XML = re.compile(f"[{ILLEGAL_XML_CHARS}]")

#: The parts of a chart sheet (written by xlsx_chart.py) and their content types.
CHART_CONTENT_TYPES = {
    "/xl/chartsheets/sheet1.xml": "application/vnd.openxmlformats-officedocument."
    "spreadsheetml.chartsheet+xml",
    "/xl/drawings/drawing1.xml": "application/vnd.openxmlformats-officedocument.drawing+xml",
    "/xl/charts/chart1.xml": "application/vnd.openxmlformats-officedocument.drawingml.chart+xml",
}

#: Style indexes in STYLES (cellXfs order): a cell's ``s="N"``. Keep both in step.
S_HEADER, S_DATE, S_DATETIME, S_TIME, S_QUOTED = 1, 2, 3, 4, 5


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def clean_text(text: str) -> str:
    """Remove what XML 1.0 cannot carry (most C0 controls, lone surrogates, U+FFFE/F)."""
    return ILLEGAL_XML.sub("", text)


def package_parts(
    sheet_names: list[str],
    last_rows: list[int],
    n_columns: int,
    title: str,
    created_at: datetime,
    formats: Sequence[str] = (),
    chart_sheet: str | None = None,
    highlights: Sequence[tuple[str, str | None, bool]] = (),
) -> list[tuple[str, str]]:
    """(zip entry name, XML text) of every part but the sheets. ``chart_sheet``: the name
    of a chart sheet after the data sheets, whose parts xlsx_chart.py writes;
    ``highlights``: the conditional formats' styles (see :func:`styles`)."""
    n = len(sheet_names)
    last_col = column_letter(max(n_columns, 1) - 1)
    sheets = "".join(
        f'<sheet name={quoteattr(name)} sheetId="{i}" r:id="rId{i}"/>'
        for i, name in enumerate(sheet_names, start=1)
    )
    chart_id = n + 2  # after the sheets and the styles
    if chart_sheet is not None:
        sheets += f'<sheet name={quoteattr(chart_sheet)} sheetId="{n + 1}" r:id="rId{chart_id}"/>'

    quoted = ["'" + name.replace("'", "''") + "'" for name in sheet_names]
    # Sorted by name, then sheet, as Excel writes them: all filters, then all print titles.
    defined = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
        + escape(f"{sheet}!$A$1:${last_col}${last}")
        + "</definedName>"
        for i, (sheet, last) in enumerate(zip(quoted, last_rows, strict=True))
    ) + "".join(
        # the header row printed on every page
        f'<definedName name="_xlnm.Print_Titles" localSheetId="{i}">'
        + escape(f"{sheet}!$1:$1")
        + "</definedName>"
        for i, sheet in enumerate(quoted)
    )
    workbook = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<workbook xmlns="{NS}" xmlns:r="{NS_R}">'
        '<workbookPr/><bookViews><workbookView activeTab="0"/></bookViews>'
        f"<sheets>{sheets}</sheets>"
        + (f"<definedNames>{defined}</definedNames>" if n_columns else "")
        + "</workbook>"
    )
    rels = "".join(
        f'<Relationship Id="rId{i}" Type="{NS_R}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, n + 1)
    )
    workbook_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{NS_PKG}">{rels}'
        f'<Relationship Id="rId{n + 1}" Type="{NS_R}/styles" Target="styles.xml"/>'
        + (
            f'<Relationship Id="rId{chart_id}" Type="{NS_R}/chartsheet" '
            'Target="chartsheets/sheet1.xml"/>'
            if chart_sheet is not None
            else ""
        )
        + "</Relationships>"
    )
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, n + 1)
    )
    if chart_sheet is not None:
        overrides += "".join(
            f'<Override PartName="{part}" ContentType="{kind}"/>'
            for part, kind in CHART_CONTENT_TYPES.items()
        )
    content_types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        '<Override PartName="/docProps/core.xml" '
        'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        '<Override PartName="/docProps/app.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.extended-properties+xml"/>'
        f"{overrides}</Types>"
    )
    root_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{NS_PKG}">'
        f'<Relationship Id="rId1" Type="{NS_R}/officeDocument" Target="xl/workbook.xml"/>'
        f'<Relationship Id="rId2" Type="{NS_PKG}/metadata/core-properties" '
        'Target="docProps/core.xml"/>'
        f'<Relationship Id="rId3" Type="{NS_R}/extended-properties" '
        'Target="docProps/app.xml"/>'
        "</Relationships>"
    )
    created = created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    core = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
        'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{escape(clean_text(title))}</dc:title>"
        "<dc:creator>db-scheduler</dc:creator>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{created}</dcterms:created>'
        "</cp:coreProperties>"
    )
    app = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
        'extended-properties"><Application>db-scheduler</Application></Properties>'
    )
    return [
        ("xl/workbook.xml", workbook),
        ("xl/_rels/workbook.xml.rels", workbook_rels),
        ("xl/styles.xml", styles(formats, highlights)),
        ("[Content_Types].xml", content_types),
        ("_rels/.rels", root_rels),
        ("docProps/core.xml", core),
        ("docProps/app.xml", app),
    ]


#: The first style index of the task's column formats (see :func:`styles`).
S_FORMATS = 6


def format_style(index: int, bold: bool = False) -> int:
    """The ``s="N"`` of the task's ``index``-th number format (bold: its totals cell)."""
    return S_FORMATS + 2 * index + (1 if bold else 0)


def styles(
    formats: Sequence[str] = (), highlights: Sequence[tuple[str, str | None, bool]] = ()
) -> str:
    """styles.xml: the fixed styles (S_HEADER ...), then each of ``formats`` (Excel number
    format codes of the task's columns) twice, regular and bold (:func:`format_style`);
    ``highlights``: the differential formats of conditional formatting, in order (its
    ``dxfId``), each (font colour or "", fill colour or None, bold), colours RGB hex."""
    codes = ["yyyy-mm-dd", "yyyy-mm-dd hh:mm:ss", "hh:mm:ss", *formats]
    num_fmts = "".join(
        f'<numFmt numFmtId="{164 + i}" formatCode={quoteattr(code)}/>'
        for i, code in enumerate(codes)
    )
    xf = '<xf numFmtId="{}" fontId="{}" fillId="0" borderId="0" xfId="0"{}/>'
    fixed = [
        xf.format(0, 0, ""),
        xf.format(0, 1, ' applyFont="1"'),
        xf.format(164, 0, ' applyNumberFormat="1"'),
        xf.format(165, 0, ' applyNumberFormat="1"'),
        xf.format(166, 0, ' applyNumberFormat="1"'),
        xf.format(0, 0, ' quotePrefix="1"'),
    ]
    extra = [
        xf.format(167 + i, font, ' applyNumberFormat="1"' + (' applyFont="1"' if font else ""))
        for i in range(len(formats))
        for font in (0, 1)
    ]
    xfs = fixed + extra
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<styleSheet xmlns="{NS}">'
        f'<numFmts count="{len(codes)}">{num_fmts}</numFmts>'
        '<fonts count="2">'
        '<font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
        '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
        "</fonts>"
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
        "</cellStyleXfs>"
        f'<cellXfs count="{len(xfs)}">{"".join(xfs)}</cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        + (f'<dxfs count="{len(highlights)}">{"".join(_dxf(*h) for h in highlights)}</dxfs>'
           if highlights else "")
        + "</styleSheet>"
    )  # fmt: skip


def _dxf(color: str, fill: str | None, bold: bool) -> str:
    """A differential format (what a conditional format changes): font, then fill."""
    font = ("<b/>" if bold else "") + (f'<color rgb="FF{color}"/>' if color else "")
    fills = f'<fill><patternFill><bgColor rgb="FF{fill}"/></patternFill></fill>' if fill else ""
    return "<dxf>" + (f"<font>{font}</font>" if font else "") + fills + "</dxf>"


STYLES = styles()
