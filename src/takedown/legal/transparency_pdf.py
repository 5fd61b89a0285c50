"""The transparency report as a PDF to publish: the same sections, figures and bars as the
HTML report (:func:`takedown.legal.transparency.sections`), drawn with fpdf2 (pure Python,
the PDF core fonts: no font files, no outside resources)."""

from __future__ import annotations

from fpdf import FPDF

from takedown.legal.transparency import Figures, Section, sections

BLUE = (11, 83, 148)
INK = (27, 27, 31)
MUTED = (85, 85, 95)


def _latin1(text: str) -> str:
    """The core fonts cover Latin-1 only: typographic marks become their plain forms, any
    other character a "?" (a bank name in another script still prints, marked)."""
    plain = (
        text.replace("\u2014", "-")
        .replace("\u2013", "-")
        .replace("\u201c", '"')
        .replace("\u201d", '"')
        .replace("\u2019", "'")
    )
    return plain.encode("latin-1", "replace").decode("latin-1")


def to_pdf(report: Figures) -> bytes:
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_title("Transparency report")
    pdf.set_creator("takedown")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 20)
    pdf.set_text_color(*INK)
    pdf.cell(0, 12, "Transparency report", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    pdf.set_text_color(*MUTED)
    period = f"Period: {report.period_from[:10]} to {report.period_to[:10]} (UTC)"
    pdf.cell(0, 7, period, new_x="LMARGIN", new_y="NEXT")
    for section in sections(report):
        _section(pdf, section)
    return bytes(pdf.output())


def _section(pdf: FPDF, section: Section) -> None:
    pdf.ln(4)
    if pdf.get_y() > 240:
        pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.set_text_color(*INK)
    pdf.cell(0, 9, _latin1(section.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "I", 9)
    pdf.set_text_color(*MUTED)
    pdf.multi_cell(0, 4.5, _latin1(section.basis), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    pdf.set_text_color(*INK)
    for name, value in section.rows:
        pdf.set_font("Helvetica", "", 10)
        pdf.cell(120, 6, _latin1(name), border="B")
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(0, 6, _latin1(value), border="B", align="R", new_x="LMARGIN", new_y="NEXT")
    if section.note:
        pdf.set_font("Helvetica", "", 9)
        pdf.multi_cell(0, 4.5, _latin1(section.note), new_x="LMARGIN", new_y="NEXT")
    if section.bars:
        _bars(pdf, section.bars)


def _bars(pdf: FPDF, bars: tuple[tuple[str, int], ...]) -> None:
    """Each label on its line, its bar below it, the count after the bar."""
    pdf.ln(2)
    top = max(n for _name, n in bars) or 1
    room = pdf.w - pdf.l_margin - pdf.r_margin - 20
    for name, count in bars:
        if pdf.get_y() > 270:
            pdf.add_page()
        pdf.set_font("Helvetica", "", 9)
        pdf.set_text_color(*INK)
        pdf.cell(0, 5, _latin1(name), new_x="LMARGIN", new_y="NEXT")
        y = pdf.get_y()
        width = max(room * count / top, 0.8)
        pdf.set_fill_color(*BLUE)
        pdf.rect(pdf.l_margin, y, width, 4, style="F")
        pdf.set_xy(pdf.l_margin + width + 2, y - 0.5)
        pdf.cell(15, 5, str(count), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
