"""Tidy plain text in one linear pass: no trailing blanks, at most one empty line in a row.

Regexes such as ``[ \\t]+\\n`` look linear but retry at every position of a long run of
spaces that is not followed by a line break, which is quadratic; here each line is
trimmed once with ``str.rstrip``.
"""

from __future__ import annotations

__all__ = ["tidy_lines"]


_CHUNK = 1 << 16  # characters of lines split at a time: a list of every line is 50
# bytes a line more than the text (a text of short lines, many times its size)


def tidy_lines(text: str) -> str:
    """``text`` with line ends normalised to ``\\n``, spaces and tabs at line ends removed,
    runs of empty lines squeezed to one, and no empty lines at the start or end."""
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
    return "\n".join(pieces)


def _chunks(text: str) -> list[str]:
    """`text` cut at line ends about every `_CHUNK` characters (the line ends dropped):
    the lines of the pieces are the lines of `text`."""
    if len(text) <= _CHUNK:
        return [text]
    pieces: list[str] = []
    start = 0
    while True:
        end = text.find("\n", start + _CHUNK)
        if end == -1:
            pieces.append(text[start:])
            return pieces
        pieces.append(text[start:end])
        start = end + 1
