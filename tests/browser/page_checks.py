"""What every page must pass in the browser, in English and Spanish, at 1280 and 390 px.

`check_page` runs, at each width (and at 768 px for scrolling only): no horizontal scrolling
(`document.documentElement.scrollWidth <= clientWidth`), axe-core (axe-playwright-python,
which bundles axe and injects it through Playwright, so the page's CSP is not in the way)
with no critical or serious violation, and a full-page screenshot
`test-artifacts/screenshots/<test>-<name>-<lang>-<width>.png`. In Spanish it also checks that
the page shows no English catalogue entry (a string of node/web/locale that was left
untranslated on the way to the page).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

WIDTHS = (1280, 390)
#: checked for sideways scrolling only (a tablet), to keep the tests quick
TABLET = 768
LANGUAGES = {"en": "en-US", "es": "es-MX"}
SCROLL_JS = "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
#: pages whose templates issue 15's reports/accounts work rewrites with gettext
ENGLISH_ONLY_FOR_NOW: tuple[str, ...] = ()  # every page is translated


@cache
def _axe_script() -> str:
    from axe_playwright_python.sync_playwright import Axe

    return str(Axe().axe_script)


AXE_RUN_JS = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.filter((v) => v.impact === "critical" || v.impact === "serious")
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ` +
         v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join("; "));
}"""


@cache
def english_entries() -> tuple[str, ...]:
    """Catalogue strings of two words or more whose Spanish differs (none has a variable)."""
    from babel.messages.pofile import read_po

    from node.web.i18n import LOCALE_DIR

    with (LOCALE_DIR / "es" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale="es")
    found = []
    for message in catalog:
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        for msgid in ids:
            text = re.sub(r"<[^>]+>", "", msgid)
            if (msgid and "%(" not in msgid and "{" not in msgid and len(text.split()) >= 2
                    and text not in strings):
                found.append(text)
    return tuple(sorted(set(found), key=len, reverse=True))


def serious_violations(page: Any) -> list[str]:
    """axe-core's critical and serious violations (axe injected once per document)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_script())
    return list(page.evaluate(AXE_RUN_JS))


def untranslated(page: Any) -> list[str]:
    text = " ".join(page.evaluate("() => document.body.innerText").split())
    return [entry for entry in english_entries() if entry in text]


def check_page(page: Any, shoot: Any, name: str, lang: str, *,
               translated: bool = True) -> list[str]:
    """Every check at both widths; returns the problems (empty: the page passes)."""
    problems: list[str] = []
    assert page.evaluate("() => document.documentElement.lang") == lang, page.url
    if lang == "es" and translated and not page.url.endswith(ENGLISH_ONLY_FOR_NOW):
        problems += [f"{name} [{lang}]: English left: {e!r}" for e in untranslated(page)]
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        scroll, client = page.evaluate(SCROLL_JS)
        if scroll > client:
            problems.append(f"{name} [{lang} {width}px]: scrolls sideways ({scroll} > {client})")
        problems += [f"{name} [{lang} {width}px]: {v}" for v in serious_violations(page)]
        shoot(page, f"{name}-{lang}-{width}")
    page.set_viewport_size({"width": TABLET, "height": 900})
    scroll, client = page.evaluate(SCROLL_JS)
    if scroll > client:
        problems.append(f"{name} [{lang} {TABLET}px]: scrolls sideways ({scroll} > {client})")
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})
    return problems


#: a MutationObserver on every live region, recording each piece of text it comes to say:
#: every added node's text (a log's new line) and every changed text (a status replaced)
LIVE_REGIONS_JS = """() => {
  window.__announced = [];
  const regions = document.querySelectorAll(
    '[aria-live]:not([aria-live=off]), [role=status], [role=alert], [role=log]');
  for (const region of regions) {
    const key = region.id || region.className;
    new MutationObserver((records) => {
      for (const record of records) {
        if (record.type === "characterData") {
          window.__announced.push([key, record.target.textContent.trim()]);
        }
        for (const node of record.addedNodes) {
          const text = node.textContent.trim();
          if (text) window.__announced.push([key, text]);
        }
      }
    }).observe(region, { childList: true, subtree: true, characterData: true });
  }
}"""
