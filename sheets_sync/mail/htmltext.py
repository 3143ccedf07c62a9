"""HTML mail turned into plain text, safely.

The standard library's ``html.parser`` only tokenises: nothing is fetched,
run or rendered. Scripts, styles and elements the sender hid (``hidden``,
``display:none``) are dropped, so what the cell reads is what a mail reader
would have shown. Character references are decoded exactly once, by the
parser: ``&amp;lt;script&amp;gt;`` comes out as the text ``&lt;script&gt;``,
never as a tag. The result is only ever stored as text.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Elements whose content is never shown to a reader.
_DROPPED = {"script", "style", "head", "title", "template", "noscript", "iframe", "object",
            "svg", "math", "select", "textarea"}
# A line break before and after these; a blank line around paragraphs, lists and tables.
_BLOCKS = {"address", "article", "aside", "dd", "div", "dt", "fieldset", "figcaption", "figure",
           "footer", "form", "header", "hr", "li", "main", "nav", "section", "tr"}
_PARAGRAPHS = {"blockquote", "dl", "h1", "h2", "h3", "h4", "h5", "h6", "ol", "p", "pre", "table", "ul"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
         "source", "track", "wbr"}
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str | int] = []  # text, or a break: 1 a line, 2 a blank line
        self._skip: list[str] = []  # the open elements whose content is dropped
        self._pre = 0
        self._href: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skip:
            if tag not in _VOID:
                self._skip.append(tag)
            return
        values = {k: (v or "") for k, v in attrs}
        if tag in _DROPPED or "hidden" in values or _HIDDEN_STYLE.search(values.get("style", "")):
            if tag not in _VOID:
                self._skip.append(tag)
            return
        if tag == "br":
            self.out.append("\n")
        elif tag in _BLOCKS or tag in _PARAGRAPHS:
            self.out.append(2 if tag in _PARAGRAPHS else 1)
            if tag == "li":
                self.out.append("• ")
        elif tag in ("td", "th"):
            self.out.append("\t")
        if tag == "pre":
            self._pre += 1
        if tag == "a":
            self._href.append(values.get("href", "").strip())

    def handle_endtag(self, tag: str) -> None:
        if self._skip:
            # Close up to the matching element (browsers forgive unclosed inner tags).
            if tag in self._skip:
                while self._skip and self._skip.pop() != tag:
                    pass
            return
        if tag in _BLOCKS or tag in _PARAGRAPHS:
            self.out.append(2 if tag in _PARAGRAPHS else 1)
        if tag == "pre" and self._pre:
            self._pre -= 1
        if tag == "a" and self._href:
            href = self._href.pop()
            # Show where a link leads, as the draft links the cell needs are links.
            if re.match(r"(?i)(https?|mailto):", href) and href not in self._last_text():
                self.out.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.out.append(data if self._pre else _SPACES.sub(" ", data.replace("\n", " ")))

    def _last_text(self) -> str:
        return "".join(t for t in self.out[-3:] if isinstance(t, str))

    def text(self) -> str:
        """The pieces joined; breaks next to each other count once, as the strongest."""
        pieces: list[str] = []
        pending = 0
        for piece in self.out:
            if isinstance(piece, int):
                pending = max(pending, piece)
                continue
            if pending and pieces:
                pieces.append("\n" * pending)
            pending = 0
            pieces.append(piece)
        return "".join(pieces)


def html_to_text(markup: str) -> str:
    """The text a reader would see in ``markup``: paragraphs kept, nothing executed."""
    parser = _Text()
    parser.feed(markup)
    parser.close()
    lines = [line.strip(" ") for line in parser.text().split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
