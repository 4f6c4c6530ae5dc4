"""An XLSX workbook of one sheet, written as a stream: the sheet's rows arrive as XML and are deflated into the
archive as they come, so memory stays flat at any size.

The rows are formatted by PostgreSQL (see `export.xlsx_query`); this module writes the fixed parts of the
package around them: content types, relationships, properties, the styles (a bold header and a date format)
and the sheet's frame (frozen header, column widths). Every part is dated by the report's fire, so the same
rows give the same bytes."""

from __future__ import annotations

import contextlib
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from shared.errors import ExportTooLarge

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_SHEET = "xl/worksheets/sheet1.xml"
# Cell styles (cellXfs) the rows refer to by index: 1 is a date shown yyyy-mm-dd, 2 the bold header.
DATE_STYLE = 1
HEADER_STYLE = 2

_CONTENT_TYPES = (
    _DECL + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml"'
    ' ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    f'<Override PartName="/{_SHEET}"'
    ' ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml"'
    ' ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '<Override PartName="/docProps/core.xml"'
    ' ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
    '<Override PartName="/docProps/app.xml"'
    ' ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    _DECL + f'<Relationships xmlns="{_PKG_REL}">'
    f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/'
    'core-properties" Target="docProps/core.xml"/>'
    f'<Relationship Id="rId3" Type="{_REL}/extended-properties" Target="docProps/app.xml"/>'
    "</Relationships>"
)
_APP = (
    _DECL + '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
    "<Application>Scheduled Reports</Application></Properties>"
)
_WORKBOOK_RELS = (
    _DECL + f'<Relationships xmlns="{_PKG_REL}">'
    f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_REL}/styles" Target="styles.xml"/>'
    "</Relationships>"
)
_STYLES = (
    _DECL + f'<styleSheet xmlns="{_MAIN}">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
    "</fills>"
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_ZIP_FIRST = datetime(1980, 1, 1, tzinfo=UTC)
_ZIP_LAST = datetime(2107, 12, 31, 23, 59, 58, tzinfo=UTC)


def _sheet_tail(last_column: str, last_row: int) -> str:
    """After the rows: a filter on the header over every row (known only now), and the page margins."""
    return (
        f'</sheetData><autoFilter ref="A1:{last_column}{last_row}"/>'
        '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>'
    )


def _workbook(last_column: str, last_row: int) -> str:
    # The filter's range is named as Excel names it, so Excel keeps the filter as it found it.
    return (
        _DECL + f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><bookViews><workbookView/></bookViews>'
        '<sheets><sheet name="Report" sheetId="1" r:id="rId1"/></sheets><definedNames>'
        '<definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">'
        f"Report!$A$1:${last_column}${last_row}</definedName></definedNames></workbook>"
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def column_letter(index: int) -> str:
    """The column's letter in a cell reference, from 0 (A); a report has twelve columns, A to L."""
    return chr(ord("A") + index)


def _sheet_head(header: list[str], widths: tuple[float, ...], date_columns: tuple[int, ...]) -> str:
    """The sheet up to its first data row: the header frozen above the rows, widths (dates styled as dates in
    cells a user adds too), and the header row in bold."""
    cols = "".join(
        f'<col min="{i + 1}" max="{i + 1}" width="{w + 0.7109375}" customWidth="1"'
        + (f' style="{DATE_STYLE}"' if i in date_columns else "")
        + "/>"
        for i, w in enumerate(widths)
    )
    cells = "".join(
        f'<c r="{column_letter(i)}1" t="inlineStr" s="{HEADER_STYLE}"><is><t>{_escape(name)}</t></is></c>'
        for i, name in enumerate(header)
    )
    return (
        _DECL + f'<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}">'
        '<sheetViews><sheetView tabSelected="1" workbookViewId="0">'
        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
        f'<sheetFormatPr defaultRowHeight="15"/><cols>{cols}</cols><sheetData><row r="1">{cells}</row>'
    )


def _core(created: datetime) -> str:
    stamp = created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        _DECL + '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
        'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"'
        ' xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified></cp:coreProperties>'
    )


# A sheet's XML must stay under 2 GiB: past that its zip entry needs ZIP64 records, which some readers reject.
# 1,048,575 rows reach it only if they average over 2 KB of XML (about 700 bytes is usual).
SHEET_XML_LIMIT = (1 << 31) - (1 << 20)


class StreamedWorkbook:
    """Blocking: run it in a thread. `write` takes the sheet's row XML in any chunks; `close` finishes the
    archive and returns its size. At level 1 deflate keeps pace with PostgreSQL formatting the rows, and the
    repetitive XML still shrinks about fivefold (709 MB to 131 MB for 1,000,000 rows)."""

    LEVEL = 1

    def __init__(
        self, path: Path, created: datetime, header: list[str], widths: tuple[float, ...], date_columns: tuple[int, ...]
    ) -> None:
        # ZIP timestamps are wall time without a zone, 1980 to 2107: the fire's, in UTC, held to that range.
        utc = min(max(created.astimezone(UTC), _ZIP_FIRST), _ZIP_LAST)
        self._stamp = (utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second)
        self._archive = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=self.LEVEL)
        self._path = path
        self._xml_bytes = 0
        self._last_column = column_letter(len(header) - 1)
        try:
            for name, text in (
                ("[Content_Types].xml", _CONTENT_TYPES),
                ("_rels/.rels", _ROOT_RELS),
                ("docProps/app.xml", _APP),
                ("docProps/core.xml", _core(created)),
                ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
                ("xl/styles.xml", _STYLES),
            ):
                self._archive.writestr(self._info(name), text)
            self._sheet: IO[bytes] = self._archive.open(self._info(_SHEET), "w")
            self.write(_sheet_head(header, widths, date_columns).encode())
        except BaseException:
            self.abort()
            raise

    def _info(self, name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self._stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        # The archive's level is only applied to names given as strings (which are dated now).
        info._compresslevel = self.LEVEL  # type: ignore[attr-defined]
        return info

    def write(self, rows_xml: bytes) -> None:
        self._xml_bytes += len(rows_xml)
        if self._xml_bytes > SHEET_XML_LIMIT:
            raise ExportTooLarge(
                f"the report's rows take more than {SHEET_XML_LIMIT >> 20:,} MiB as an XLSX sheet, more than an "
                "XLSX file can hold for every reader; choose the csv or ndjson format, or narrow the shared "
                "link's filters"
            )
        self._sheet.write(rows_xml)

    def close(self, rows: int) -> int:
        """`rows`: how many rows below the header were written. The workbook part names the filter's range, so
        it follows the sheet (readers find parts by the archive's directory, not its order)."""
        self._sheet.write(_sheet_tail(self._last_column, rows + 1).encode())
        self._sheet.close()
        self._archive.writestr(self._info("xl/workbook.xml"), _workbook(self._last_column, rows + 1))
        self._archive.close()
        return self._path.stat().st_size

    def abort(self) -> None:
        """Release the file after a failure (the caller removes it: what was written is not a workbook)."""
        # The archive is abandoned either way.
        with contextlib.suppress(Exception):
            self._sheet.close()
        with contextlib.suppress(Exception):
            self._archive.close()
