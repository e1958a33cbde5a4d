"""A griffe extension for the API reference: docstrings carry formulas in plain text, and
Markdown reads an index chain such as ``Sigma[idx][:, idx]`` or ``coefficients[j][i]`` as a
reference link (which mkdocs --strict then reports as a broken cross-reference). Outside code
spans and indented code blocks, "][" becomes "]\\[", which renders as the text it was.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_CODE_SPAN = re.compile(r"(`+)(?:.|\n)*?\1")


def escape_index_chains(text: str) -> str:
    """``text`` with every "][" outside code escaped, so no reference link is formed."""
    lines = []
    for line in text.split("\n"):
        if line.startswith("    "):  # an indented code block: shown verbatim
            lines.append(line)
            continue
        pieces, last = [], 0
        for code in _CODE_SPAN.finditer(line):
            pieces.append(line[last : code.start()].replace("][", "]\\["))
            pieces.append(code.group(0))
            last = code.end()
        pieces.append(line[last:].replace("][", "]\\["))
        lines.append("".join(pieces))
    return "\n".join(lines)


class PlainFormulas(griffe.Extension):
    """Escape index chains in every docstring before mkdocstrings renders it."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = escape_index_chains(obj.docstring.value)
