"""Numbers typed by people or found in URLs (no imports from the rest of ``web``)."""

from __future__ import annotations


def digits(text: str) -> bool:
    """Only ASCII digits (at least one): what ``int()`` takes. ``str.isdigit()`` also says yes
    to "²" and other digits that ``int()`` refuses with an error."""
    return text.isascii() and text.isdigit()
