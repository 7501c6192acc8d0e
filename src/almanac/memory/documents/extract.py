"""Text from a file, as sections (heading, page, text): pure, no I/O beyond the bytes given.

Markdown and HTML keep their headings, PDF its page numbers, plain text its paragraphs.
Every format is bounded by `max_pages` so one hostile file cannot cost unbounded work.
"""

from __future__ import annotations

import io
import re
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import PurePath
from typing import TYPE_CHECKING

from almanac.errors import ValidationFailed

if TYPE_CHECKING:
    from pypdf import PageObject

MEDIA_TYPES = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".text": "text/plain",
    ".html": "text/html",
    ".htm": "text/html",
    ".pdf": "application/pdf",
}
# Plain text counts a "page" every this many characters, for the page bound and throughput.
_CHARS_PER_PAGE = 3000


@dataclass(frozen=True)
class Section:
    """A run of text under one heading (and on one page, for PDF)."""

    heading: str | None
    page: int | None
    text: str


@dataclass(frozen=True)
class Extracted:
    title: str | None
    pages: int
    sections: list[Section]


def media_type_of(filename: str, declared: str | None = None) -> str:
    """The media type by extension, else the declared one when it is one we read."""
    by_ext = MEDIA_TYPES.get(PurePath(filename).suffix.lower())
    if by_ext:
        return by_ext
    base = (declared or "").split(";")[0].strip().lower()
    if base in MEDIA_TYPES.values():
        return base
    raise ValidationFailed(
        f"unsupported file type for {filename!r}: use Markdown, plain text, HTML or PDF",
        field="file",
    )


def extract(data: bytes, media_type: str, *, max_pages: int) -> Extracted:
    """Sections of text from `data`; a 422 naming `file` when it cannot be read."""
    if media_type == "application/pdf":
        return _pdf(data, max_pages)
    text = _decode(data)
    pages = max(1, -(-len(text) // _CHARS_PER_PAGE))
    if pages > max_pages:
        raise ValidationFailed(
            f"the file has about {pages} pages; at most {max_pages}", field="file"
        )
    if media_type == "text/html":
        return _html(text, pages)
    if media_type == "text/markdown":
        return _markdown(text, pages)
    return Extracted(None, pages, [Section(None, None, text)])


def _decode(data: bytes) -> str:
    # UTF-16 only with its byte order mark (Windows editors save it so); UTF-8 otherwise.
    utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff"))
    try:
        text = data.decode("utf-16" if utf16 else "utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(
            "the file is not UTF-8 text (nor UTF-16 with a byte order mark)", field="file"
        ) from exc
    if "\x00" in text:
        raise ValidationFailed("the file contains NUL bytes: not a text file", field="file")
    return text


# A setext heading's underline (CommonMark): "===" makes a level 1 heading, "---" level 2.
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*")
# Lines a setext underline cannot turn into a heading: list items, quotes, ATX headings, rows.
_NOT_SETEXT = re.compile(r" {0,3}([-+*>#|]|\d+[.)])")


def _setext(lines: list[str], line: str) -> bool:
    """Whether `line` underlines the paragraph line before it (a one-line paragraph: a
    `---` after a blank line is a thematic break, and a long paragraph stays text)."""
    return (
        _SETEXT.fullmatch(line) is not None
        and bool(lines)
        and bool(lines[-1].strip())
        and (len(lines) == 1 or not lines[-2].strip())
        and _NOT_SETEXT.match(lines[-1]) is None
    )


# Only the opening hashes by pattern: `(.+?)\s*#*\s*$` for the closing ones backtracked in
# cubic time on a line of spaces (5 KB took minutes); `_heading` strips them instead.
_ATX = re.compile(r"(#{1,6})\s+(\S.*)")
# A code fence (CommonMark): up to three spaces, then three or more backticks or tildes; a
# backtick fence's info string holds no backtick. Only a fence of the same character, at
# least as long and with nothing after it, closes it: "~~~" inside a "```" block is code.
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")


def _fence_opens(line: str) -> str | None:
    """The fence `line` opens (its run of backticks or tildes), if any."""
    match = _FENCE.fullmatch(line)
    if match is None or (match.group(1)[0] == "`" and "`" in match.group(2)):
        return None
    return match.group(1)


def _fence_closes(line: str, fence: str) -> bool:
    match = _FENCE.fullmatch(line)
    return (
        match is not None
        and match.group(1)[0] == fence[0]
        and len(match.group(1)) >= len(fence)
        and not match.group(2).strip()
    )


def _markdown(text: str, pages: int) -> Extracted:
    sections: list[Section] = []
    heading: str | None = None
    title: str | None = None
    lines: list[str] = []
    fence: str | None = None  # the open code fence, if inside one
    for line in text.splitlines():
        if fence is None:
            fence = _fence_opens(line)
        elif _fence_closes(line, fence):
            fence = None
            lines.append(line)
            continue
        match = None if fence is not None else _ATX.fullmatch(line)
        setext = match is None and fence is None and _setext(lines, line)
        if match or setext:
            text = lines.pop().strip() if setext else _heading(match.group(2)) if match else ""
            # A heading with no text under it is kept: a file of headings alone has them
            # as its only text (`chunk_sections`).
            if "".join(lines).strip() or heading:
                sections.append(Section(heading, None, "\n".join(lines)))
            lines, heading = [], text
            top = line.lstrip().startswith("=") if setext else bool(match and len(match[1]) == 1)
            if title is None and top:
                title = heading
            continue
        lines.append(line)
    if "".join(lines).strip() or heading:
        sections.append(Section(heading, None, "\n".join(lines)))
    return Extracted(title, pages, sections)


def _heading(text: str) -> str:
    """An ATX heading's text without its closing hashes ("## Pricing ##" -> "Pricing").

    Closing hashes follow a space (CommonMark): in "# Learning C#" the hash is the text's.
    """
    text = text.strip()
    bare = text.rstrip("#")
    return bare.rstrip() if bare[-1:].isspace() else text


class _HTMLText(HTMLParser):
    """Collects text by heading; drops scripts, styles and markup."""

    _HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
    _BLOCKS = {
        *("p", "div", "li", "br", "tr", "section", "article", "blockquote", "pre", "table"),
        *("ul", "ol", "dl", "dt", "dd", "hr", "caption", "figcaption", "header", "footer"),
        *("main", "nav", "aside", "figure", "address", "details", "summary"),
    }
    _CELLS = {"td", "th"}  # cells of a row: words apart, the row one paragraph
    _SKIP = {"script", "style", "noscript", "template"}
    # What a head may hold (HTML5): any other start tag ends a head left open, as
    # `</head>` and `<body>` may both be left out.
    _HEAD = {"base", "basefont", "bgsound", "link", "meta", "title", "noframes", *_SKIP}

    def __init__(self, deadline: float) -> None:
        super().__init__(convert_charrefs=True)
        self.deadline = deadline
        self.sections: list[Section] = []
        self.title: str | None = None
        self._heading: str | None = None
        self._buf: list[str] = []
        self._in_heading: str | None = None
        self._heading_buf: list[str] = []
        self._skip = 0
        self._in_head = False
        self._in_title = False

    def _check_time(self) -> None:
        # The stdlib parser rescans the rest of the text for each unfinished "<?", "<!" or
        # "<![CDATA[" (quadratic: 1.4 MB of them ran for minutes); every step calls a
        # handler, so a deadline checked here bounds the work.
        if time.monotonic() > self.deadline:
            raise ValidationFailed(
                f"reading the HTML took longer than {HTML_SECONDS:g} s", field="file"
            )

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._check_time()
        self._in_head = tag == "head" or (self._in_head and tag in self._HEAD)
        if tag in self._SKIP:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag in self._HEADINGS:
            self._flush()
            self._in_heading, self._heading_buf = tag, []
        elif tag in self._BLOCKS:
            self._buf.append("\n\n")
        elif tag in self._CELLS:
            self._buf.append(" ")

    def handle_endtag(self, tag: str) -> None:
        self._check_time()
        if tag == "head":
            self._in_head = False
        elif tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag == "title":
            self._in_title = False
        elif tag == self._in_heading:
            self._heading = " ".join("".join(self._heading_buf).split()) or None
            if self.title is None and tag == "h1":
                self.title = self._heading
            self._in_heading = None

    def handle_comment(self, data: str) -> None:
        self._check_time()

    def handle_decl(self, decl: str) -> None:
        self._check_time()

    def handle_pi(self, data: str) -> None:
        self._check_time()

    def unknown_decl(self, data: str) -> None:
        self._check_time()

    def handle_data(self, data: str) -> None:
        self._check_time()
        if self._in_title and self.title is None:
            self.title = " ".join(data.split()) or None
        elif self._skip or self._in_head:
            return
        elif self._in_heading:
            self._heading_buf.append(data)
        else:
            self._buf.append(data)

    def _flush(self) -> None:
        text = "".join(self._buf)
        if text.strip() or self._heading:  # a heading alone too, as in Markdown
            self.sections.append(Section(self._heading, None, text))
        self._buf = []

    def close(self) -> None:
        super().close()
        self._flush()


HTML_SECONDS = 10.0


def _html(text: str, pages: int) -> Extracted:
    parser = _HTMLText(time.monotonic() + HTML_SECONDS)
    parser.feed(text)
    parser.close()
    return Extracted(parser.title, pages, parser.sections)


# Text extraction costs about 1.5 s per MB of a page's (inflated) content stream, and a
# tiny file can inflate to megabytes per page, the same stream on every page: each page's
# content is bounded, and the whole file's extraction by time.
PAGE_CONTENT_MAX_BYTES = 2 * 1024 * 1024
PDF_SECONDS = 20.0


def _check_page(page: PageObject, number: int, deadline: float) -> None:
    if time.monotonic() > deadline:
        raise ValidationFailed(
            f"reading the PDF took longer than {PDF_SECONDS:g} s (stopped at page {number})",
            field="file",
        )
    contents = page.get_contents()
    size = 0 if contents is None else len(contents.get_data())
    if size > PAGE_CONTENT_MAX_BYTES:
        raise ValidationFailed(
            f"page {number} of the PDF holds {size:,} bytes of drawing instructions "
            f"(at most {PAGE_CONTENT_MAX_BYTES:,})",
            field="file",
        )


def _pdf(data: bytes, max_pages: int) -> Extracted:
    from pypdf import PdfReader  # only PDF uploads pay for importing it
    from pypdf.errors import FileNotDecryptedError, LimitReachedError

    try:
        reader = PdfReader(io.BytesIO(data))
        count = len(reader.pages)
        if count > max_pages:
            raise ValidationFailed(f"the PDF has {count} pages; at most {max_pages}", field="file")
        sections = []
        deadline = time.monotonic() + PDF_SECONDS
        for number, page in enumerate(reader.pages, start=1):
            _check_page(page, number, deadline)
            sections.append(Section(None, number, _storable(page.extract_text() or "")))
        raw_title = reader.metadata.title if reader.metadata else None
    except ValidationFailed:
        raise
    except FileNotDecryptedError as exc:
        raise ValidationFailed(
            "the PDF needs a password to open: add a copy saved without one", field="file"
        ) from exc
    except LimitReachedError as exc:
        # A compressed stream that inflates past pypdf's bound (a decompression bomb).
        raise ValidationFailed(
            f"the PDF could not be read: a stream in it is too large ({exc})", field="file"
        ) from exc
    except Exception as exc:
        # pypdf raises far more than PyPdfError on a malformed file (NotImplementedError
        # for an unknown filter, DeprecationError for a removed one, AttributeError for a
        # trailer that is no dictionary...): whatever it raises, the file is unreadable.
        raise ValidationFailed("the PDF could not be read", field="file") from exc
    title = _storable(str(raw_title)).strip() if raw_title else None
    return Extracted(title or None, count, [s for s in sections if s.text.strip()])


# NUL, which Postgres text cannot hold, and lone surrogates, which UTF-8 cannot: pypdf gives
# NUL for a font without a map to Unicode (common in real files), and the insert failed.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _storable(text: str) -> str:
    return _UNSTORABLE.sub("", text)
