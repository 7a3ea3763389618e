"""Input reading and validation shared by HTML forms and JSON bodies.

A ``Form`` reads typed values out of a form (strings, repeated keys) or a JSON object (native
types), records one message per bad field, and ``check()`` raises a ``UserError`` carrying them.
Views re-render the form with the messages; the API returns them under ``error.fields``.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from multidict import MultiDictProxy

from web.errors import UserError
from web.i18n import _
from web.numbers import digits

E = TypeVar("E", bound=enum.Enum)
MAX_ID = 2**31 - 1


class Form:
    def __init__(self, data: Mapping[str, Any] | MultiDictProxy[Any], *, partial: bool = False):
        self.data = data
        self.errors: dict[str, str] = {}
        # partial: a JSON update, where absent fields keep their value (read as None).
        self.partial = partial

    def _raw(self, name: str) -> Any:
        value = self.data.get(name)
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    def has(self, name: str) -> bool:
        return name in self.data

    def _missing(self, name: str, required: bool) -> None:
        # In a partial update an absent field is kept, but a present empty one is an error.
        if required and (not self.partial or self.has(name)):
            self.errors[name] = _("This field is required.")

    def text(self, name: str, *, max_len: int, required: bool = True) -> str | None:
        value = self._raw(name)
        if value is None:
            self._missing(name, required)
            return None if required or (self.partial and not self.has(name)) else ""
        if not isinstance(value, str):
            self.errors[name] = _("Enter text.")
            return None
        if len(value) > max_len:
            self.errors[name] = _("This text is too long.")
            return None
        return value

    def choice(self, name: str, kind: type[E], *, required: bool = True) -> E | None:
        value = self._raw(name)
        if value is None:
            self._missing(name, required)
            return None
        try:
            return kind(value)
        except ValueError:
            self.errors[name] = _("Choose one of the offered values.")
            return None

    def integer(self, name: str, *, required: bool = True) -> int | None:
        value = self._raw(name)
        if value is None:
            self._missing(name, required)
            return None
        parsed = _as_id(value)
        if parsed is None:
            self.errors[name] = _("Choose one of the offered values.")
        return parsed

    def ids(self, name: str) -> list[int] | None:
        """A list of ids: repeated form keys, a comma-separated string, or a JSON list."""
        if isinstance(self.data, MultiDictProxy):
            raw: list[Any] = []
            for item in self.data.getall(name, []):
                raw.extend(part for part in str(item).split(",") if part.strip())
        else:
            if name not in self.data:
                return None if self.partial else []
            value = self.data[name]
            raw = value if isinstance(value, list) else [value]
        parsed = [_as_id(item) for item in raw]
        if any(item is None for item in parsed) or len(parsed) > 500:
            self.errors[name] = _("Choose one of the offered values.")
            return None
        return sorted({item for item in parsed if item is not None})

    def datetime(self, name: str, tz: ZoneInfo, *, required: bool = True) -> dt.datetime | None:
        """ISO 8601; without an offset it is read in the hub's time zone. Returned in UTC."""
        value = self._raw(name)
        if value is None:
            self._missing(name, required)
            return None
        try:
            parsed = dt.datetime.fromisoformat(str(value))
        except ValueError:
            self.errors[name] = _("Enter a date and time like 2025-07-01 09:00.")
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=tz)
        if not 1900 <= parsed.year <= 2200:
            self.errors[name] = _("Enter a date and time like 2025-07-01 09:00.")
            return None
        return parsed.astimezone(dt.UTC)

    def date(self, name: str, *, required: bool = False) -> dt.date | None:
        value = self._raw(name)
        if value is None:
            self._missing(name, required)
            return None
        try:
            parsed = dt.date.fromisoformat(str(value))
        except ValueError:
            self.errors[name] = _("Enter a date like 2025-07-01.")
            return None
        if not 1900 <= parsed.year <= 2200:
            self.errors[name] = _("Enter a date like 2025-07-01.")
            return None
        return parsed

    def boolean(self, name: str) -> bool | None:
        value = self._raw(name)
        if value is None:
            # An unchecked checkbox is absent from a form.
            return None if self.partial else False
        if isinstance(value, bool):
            return value
        if str(value).lower() in {"1", "true", "on", "yes"}:
            return True
        if str(value).lower() in {"0", "false", "off", "no"}:
            return False
        self.errors[name] = _("Choose yes or no.")
        return None

    def decimal(
        self, name: str, *, low: Decimal, high: Decimal, required: bool = True
    ) -> Decimal | None:
        value = self._raw(name)
        if value is None:
            self._missing(name, required)
            return None
        if isinstance(value, bool):
            self.errors[name] = _("Enter a number.")
            return None
        try:
            parsed = Decimal(str(value))
        except InvalidOperation:
            self.errors[name] = _("Enter a number.")
            return None
        if not parsed.is_finite() or not low <= parsed <= high:
            self.errors[name] = _("This number is out of range.")
            return None
        return parsed.quantize(Decimal("0.01"))

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def check(self) -> None:
        if self.errors:
            raise UserError(fields=self.errors)


def _as_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value <= MAX_ID else None
    text = str(value).strip()
    if digits(text) and len(text) <= 10:
        number = int(text)
        return number if 0 < number <= MAX_ID else None
    return None
