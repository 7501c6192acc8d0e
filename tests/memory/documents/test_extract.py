"""Text extraction and chunking, on files the tests write themselves."""

from __future__ import annotations

import pytest
from fpdf import FPDF

from almanac.errors import ValidationFailed
from almanac.memory.documents.chunking import chunk_sections
from almanac.memory.documents.extract import Section, extract, media_type_of


def make_pdf(pages: list[str], title: str | None = None) -> bytes:
    pdf = FPDF()
    if title:
        pdf.set_title(title)
    pdf.set_font("Helvetica", size=11)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    return bytes(pdf.output())


def test_markdown_sections_follow_headings_and_ignore_fenced_hashes():
    md = "# Proposal for Acme\n\nIntro.\n\n## Pricing\n\nFixed fee.\n\n```\n# not a heading\n```\n"
    out = extract(md.encode(), "text/markdown", max_pages=10)
    assert out.title == "Proposal for Acme"
    assert [(s.heading, s.text.strip()) for s in out.sections] == [
        ("Proposal for Acme", "Intro."),
        ("Pricing", "Fixed fee.\n\n```\n# not a heading\n```"),
    ]


def test_html_keeps_headings_and_drops_scripts():
    html = (
        "<html><head><title>Notes</title><script>var x = 'secret';</script></head><body>"
        "<h1>Kick-off</h1><p>We met Bob.</p><h2>Decisions</h2><p>Ship in May.</p></body></html>"
    )
    out = extract(html.encode(), "text/html", max_pages=10)
    assert out.title == "Notes"
    texts = {s.heading: " ".join(s.text.split()) for s in out.sections}
    assert texts == {"Kick-off": "We met Bob.", "Decisions": "Ship in May."}


def test_pdf_text_by_page():
    data = make_pdf(["Page one talks about onboarding.", "Page two is about invoices."], "Guide")
    out = extract(data, "application/pdf", max_pages=10)
    assert out.pages == 2 and out.title == "Guide"
    assert [s.page for s in out.sections] == [1, 2]
    assert "invoices" in out.sections[1].text


def test_bounds_and_bad_files_are_422_naming_the_file():
    with pytest.raises(ValidationFailed) as err:
        extract(make_pdf(["a", "b", "c"]), "application/pdf", max_pages=2)
    assert err.value.errors[0]["field"] == "file"
    with pytest.raises(ValidationFailed):
        extract(b"%PDF-1.4 garbage", "application/pdf", max_pages=5)
    with pytest.raises(ValidationFailed):
        extract(b"\xff\xfe\x00bad", "text/plain", max_pages=5)
    with pytest.raises(ValidationFailed):
        media_type_of("contract.docx", "application/octet-stream")
    assert media_type_of("notes", "text/markdown; charset=utf-8") == "text/markdown"


def test_chunks_pack_paragraphs_without_crossing_headings():
    para = "word " * 50  # 250 characters
    sections = [Section("A", None, "\n\n".join([para] * 5)), Section("B", 3, "short")]
    chunks = chunk_sections(sections, max_chars=600)
    assert [c.heading for c in chunks] == ["A", "A", "A", "B"]
    assert all(len(c.content) <= 600 for c in chunks)
    assert chunks[-1].page == 3 and [c.index for c in chunks] == [0, 1, 2, 3]
    # Every word survives chunking, in order.
    assert " ".join(c.content for c in chunks[:3]).split() == (para.strip() + " ").split() * 5


def test_a_paragraph_longer_than_a_chunk_splits_at_sentences_then_hard():
    text = "First sentence is here. " * 40 + "x" * 1500
    chunks = chunk_sections([Section(None, None, text)], max_chars=400)
    assert all(len(c.content) <= 400 for c in chunks)
    assert "".join(c.content for c in chunks).count("x") == 1500
