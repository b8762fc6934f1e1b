"""Tidy plain text in one linear pass: no trailing blanks, at most one empty line in a row.

Regexes such as ``[ \\t]+\\n`` look linear but retry at every position of a long run of
spaces that is not followed by a line break, which is quadratic; here each line is
trimmed once with ``str.rstrip``.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["tidy_lines", "tidy_pieces"]


_CHUNK = 1 << 16  # characters of lines split at a time: a list of every line is 50
# bytes a line more than the text (a text of short lines, many times its size)


def tidy_lines(text: str) -> str:
    """``text`` with line ends normalised to ``\\n``, spaces and tabs at line ends removed,
    runs of empty lines squeezed to one, and no empty lines at the start or end."""
    return "\n".join(tidy_pieces(text))


def tidy_pieces(text: str) -> list[str]:
    """`tidy_lines(text)` in pieces (of many lines each), to be joined by ``\\n``: a
    caller that writes them out one by one never holds the whole text twice."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    pieces: list[str] = []
    kept: list[str] = []
    seen = False  # a line has been kept
    empty = 0
    for chunk in _chunks(text):
        for line in chunk.split("\n"):
            if line[-1:] in (" ", "\t"):
                line = line.rstrip(" \t")
            if line:
                if empty and seen:
                    kept.append("")
                kept.append(line)
                seen = True
                empty = 0
            else:
                empty += 1
        if kept:
            pieces.append("\n".join(kept))
            kept = []
    return pieces


def _chunks(text: str) -> Iterator[str]:
    """`text` cut at line ends about every `_CHUNK` characters (the line ends dropped),
    one piece at a time: the lines of the pieces are the lines of `text`."""
    start = 0
    while True:
        end = text.find("\n", start + _CHUNK) if len(text) - start > _CHUNK else -1
        if end == -1:
            yield text[start:] if start else text
            return
        yield text[start:end]
        start = end + 1
