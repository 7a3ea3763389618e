"""Interface languages: gettext catalogues compiled from the .po files at start-up.

Msgids are English. Python code marks messages with ``_()`` (a marker: the text is translated
later, in the request's language, by whoever shows it), templates use ``{{ _("...") }}``.
Catalogues are read from ``web/locale/<locale>/LC_MESSAGES/messages.po`` each start, so a fresh
clone needs no compile step.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LOCALES = ("zh_CN", "en")
LOCALE_NAMES = {"zh_CN": "中文", "en": "English"}


def _(message: str) -> str:
    """Mark a message for extraction; it is translated when shown."""
    return message


def load_translations(locale: str, locale_dir: Path = LOCALE_DIR) -> Translations:
    po_file = locale_dir / locale / "LC_MESSAGES" / "messages.po"
    with po_file.open("rb") as fp:
        catalog = read_po(fp, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer)


@dataclass(frozen=True)
class Catalogues:
    default_locale: str
    translations: dict[str, Translations]

    @classmethod
    def load(cls, default_locale: str) -> Catalogues:
        return cls(default_locale, {loc: load_translations(loc) for loc in LOCALES})

    def get(self, locale: str | None) -> Translations:
        return self.translations.get(locale or "", self.translations[self.default_locale])

    def pick(self, *choices: str | None) -> str:
        """The first supported locale among the choices, else the default."""
        for choice in choices:
            if choice in self.translations:
                return choice
        return self.default_locale


def translate(translations: Translations, message: str, **params: Any) -> str:
    text = translations.ugettext(message)
    return text % params if params else text
