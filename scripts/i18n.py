"""The web UI's gettext catalogues: extract, update, compile, check.

    python scripts/i18n.py update    # extract every string, merge into each .po
    python scripts/i18n.py compile   # .po -> .mo (shipped as package data)
    python scripts/i18n.py check     # exit 1 naming strings without a translation

Strings come from node/web/templates/**.html (`_()`, `{% trans %}`, babel.cfg) and from
the web modules: `_()`, `N_()`, `add_nav(app, href, "label")`, and the English
`title="…"` every page passes to `render`. tests/node/test_i18n.py runs `missing()`.
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "node" / "web"
LOCALES = WEB / "locale"
LANGUAGES = ("es",)
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2), "add_nav": (3,),
            "translate": (2,), "BadRequest": None, "NotFound": None, "Conflict": None,
            "Forbidden": None}
TITLE = re.compile(r"""\b(?:title|label|error|message|notice)=(?:N_\()?"((?:[^"\\]|\\.)+)"\)?""")


def _method_map() -> list[tuple[str, str]]:
    return [("node/web/**.py", "python"), ("node/web/templates/**.html", "jinja2")]


def extract() -> Catalog:
    """Every string the web UI shows in English, as a template catalogue."""
    catalog = Catalog(project="statenode", locale=None)
    options = {"node/web/templates/**.html": {"extensions": "jinja2.ext.i18n",
                                              "trim_blocks": "True",
                                              "lstrip_blocks": "True"}}
    for filename, lineno, message, comments, context in extract_from_dir(
            str(ROOT), _method_map(), options_map=options, keywords=KEYWORDS,
            comment_tags=("Translators:",), strip_comment_tags=True):
        if isinstance(message, tuple | list) and len(message) >= 2 and isinstance(
                message[0], str) and message[0].startswith("/"):
            message = message[-1]  # add_nav(app, "/path", "label")
        if not message or (isinstance(message, tuple | list) and not all(message)):
            continue
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments,
                    context=context)
    sys.path.insert(0, str(ROOT))
    from node.web.setup import catalogue_words

    for word in catalogue_words():
        catalog.add(word, None, [("node/web/setup.py", 0)])
    for path in sorted(WEB.glob("*.py")):
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            for match in TITLE.finditer(line):
                if "{" in match.group(1):
                    continue
                catalog.add(match.group(1), None, [(str(path.relative_to(ROOT)), lineno)])
    return catalog


def po_path(lang: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / "messages.po"


def load(lang: str) -> Catalog:
    with po_path(lang).open("rb") as f:
        return read_po(f, locale=lang)


def update() -> None:
    template = extract()
    for lang in LANGUAGES:
        path = po_path(lang)
        if path.exists():
            catalog = load(lang)
            catalog.update(template, no_fuzzy_matching=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=lang, project="statenode")
            catalog.update(template)
        catalog.obsolete.clear()
        with path.open("wb") as f:
            write_po(f, catalog, width=100, sort_output=True, omit_header=False)


def compiled(lang: str) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, load(lang))
    return buffer.getvalue()


def compile_all() -> None:
    for lang in LANGUAGES:
        po_path(lang).with_suffix(".mo").write_bytes(compiled(lang))


def missing(lang: str) -> Iterator[str]:
    """msgids extracted from the code with no (or a fuzzy) translation in `lang`."""
    catalog = load(lang)
    for message in extract():
        if not message.id:
            continue
        found = catalog.get(message.id)
        if found is None or found.fuzzy or not (
                all(found.string) if isinstance(found.string, tuple | list)
                else found.string):
            yield message.id if isinstance(message.id, str) else message.id[0]


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    if command == "update":
        update()
    elif command == "compile":
        compile_all()
    elif command == "check":
        gaps = [f"{lang}: {m}" for lang in LANGUAGES for m in missing(lang)]
        print("\n".join(gaps) or "every string is translated")
        return 1 if gaps else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
