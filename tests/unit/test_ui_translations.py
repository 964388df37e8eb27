"""Every string of the staff UI has its Greek, and the shipped catalog is the built one."""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo

from services.gateway.ui.translations.el import EL

UI = Path(__file__).resolve().parents[2] / "services" / "gateway" / "ui"
METHODS = [
    ("**/translations/**", "ignore"),
    ("**.py", "python"),
    ("**/templates/**.html", "jinja2"),
]
KEYWORDS = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None}


def ui_messages() -> set[str]:
    found = extract_from_dir(str(UI), METHODS, keywords=KEYWORDS)
    return {str(message) for _file, _line, message, _comments, _context in found}


def test_every_ui_string_has_its_greek():
    missing = sorted(ui_messages() - set(EL))
    assert missing == [], "add these to services/gateway/ui/translations/el.py, then build"


def test_the_compiled_greek_catalog_holds_every_translation():
    mo = UI / "translations" / "el" / "LC_MESSAGES" / "messages.mo"
    catalog = read_mo(io.BytesIO(mo.read_bytes()))
    compiled = {str(m.id): m.string for m in catalog if m.id}
    stale = sorted(k for k in ui_messages() if compiled.get(k) != EL.get(k))
    assert stale == [], "run: pybabel extract (see the gateway README), then the el builder"
