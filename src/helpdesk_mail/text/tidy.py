"""Tidy plain text in one linear pass: no trailing blanks, at most one empty line in a row.

Regexes such as ``[ \\t]+\\n`` look linear but retry at every position of a long run of
spaces that is not followed by a line break, which is quadratic; here each line is
trimmed once with ``str.rstrip``.
"""

from __future__ import annotations

__all__ = ["tidy_lines"]


def tidy_lines(text: str) -> str:
    """``text`` with line ends normalised to ``\\n``, spaces and tabs at line ends removed,
    runs of empty lines squeezed to one, and no empty lines at the start or end."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    kept: list[str] = []
    empty = 0
    for line in text.split("\n"):
        if line[-1:] in (" ", "\t"):
            line = line.rstrip(" \t")
        if line:
            if empty and kept:
                kept.append("")
            kept.append(line)
            empty = 0
        else:
            empty += 1
    return "\n".join(kept)
