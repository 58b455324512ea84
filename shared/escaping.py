"""Showing untrusted bytes to people and storing them as text: never raise, never flood.

Dead letters hold whatever a sender wrote: invalid UTF-8, NUL (which PostgreSQL text refuses),
terminal escape sequences, bidirectional overrides, megabytes in one header. Everything shown
in a terminal, an alert or a text column goes through `escape_bytes` / `printable` first:
undecodable bytes become `\\xff`, control and format characters become `\\x1b` or `\\u202e`,
and long values are cut with a note of their real size.
"""

from __future__ import annotations

import codecs
import unicodedata

PREVIEW_BYTES = 2048
# Categories written as escapes: controls (NUL, ESC, DEL, C1), format characters (bidi overrides, zero-width),
# surrogates, and the Unicode line and paragraph separators (they break "one line per record" output).
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def printable(text: str, *, keep: str = "") -> str:
    """`text` with every control or format character written as a Python-style escape (except those in `keep`)."""
    if text.isprintable() and not keep:
        return text  # the common case: nothing to do
    out: list[str] = []
    for ch in text:
        if ch in keep or unicodedata.category(ch) not in _ESCAPED_CATEGORIES:
            out.append(ch)
        elif ord(ch) <= 0xFF:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
    return "".join(out)


def escape_bytes(data: bytes | None, limit: int = PREVIEW_BYTES, *, keep: str = "") -> str:
    """Bytes as safe text: UTF-8 where valid, `\\xNN` where not, at most `limit` bytes (the cut is noted)."""
    if not data:
        return ""
    head = data[:limit]
    # An incremental decoder holds back a character cut in half by the limit instead of escaping its bytes.
    text = codecs.getincrementaldecoder("utf-8")("backslashreplace").decode(head, final=len(data) <= limit)
    shown = printable(text, keep=keep)
    if len(data) > limit:
        shown += f"… [{len(data)} bytes, first {limit} shown]"
    return shown


def escape_text(text: str | None, limit: int = PREVIEW_BYTES, *, keep: str = "") -> str:
    """A str from an untrusted source (e.g. a header name) as safe text, at most about `limit` characters."""
    if not text:
        return ""
    shown = printable(text[:limit], keep=keep)
    if len(text) > limit:
        shown += f"… [{len(text)} characters, first {limit} shown]"
    return shown
