"""Spanish-aware phonetic key for surnames and given names (pure, no I/O).

Owns `phonetic_key`, used by identity matching (DESIGN.md "Identity matching", issue 4
item 3) for blocking and as a comparison level. English Soundex and Metaphone miss the
confusions that matter in Spanish names written by English-speaking clerks, so this key
folds them explicitly:

* silent ``h`` (Hernández = Ernandez), ``ch`` kept as its own sound;
* ``b``/``v`` (and ``nv``/``mb``), ``ll``/``y``, ``ñ``/``n``;
* ``z``/``c`` before e, i/``s`` (seseo), ``qu``/``k``/hard ``c``;
* ``j``/``g`` before e, i/``x`` (Jiménez = Giménez = Ximénez), ``gue``/``gui`` = hard g;
* ``ph``/``f``, ``sh``/``s``, doubled letters, ``w``/``hu``/``gu`` before a vowel.

The key keeps a vowel-class marker for an initial vowel and drops all other vowels.
Input is expected already folded (lower case ASCII letters, see match_normalize.fold);
anything else is ignored.
"""

from __future__ import annotations

import re
from functools import lru_cache

_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), repl)
    for pattern, repl in (
        (r"[^a-z]", ""),
        (r"ph", "f"),
        (r"sh", "s"),
        (r"ch", "C"),  # keep ch distinct from c/k/s
        (r"^(?:hu|w)(?=[aeio])", "W"),
        (r"^gu(?=[ao])", "W"),
        (r"(?<=[aeiou])(?:hu|w)(?=[aeio])", "W"),
        (r"h", ""),
        (r"qu(?=[ei])", "k"),
        (r"q", "k"),
        (r"gu(?=[ei])", "G"),
        (r"g(?=[ei])", "J"),
        (r"G", "g"),
        (r"[jx]", "J"),
        (r"c(?=[ei])", "s"),
        (r"[zç]", "s"),
        (r"c", "k"),
        (r"ll", "y"),
        (r"y(?=[^aeiou]|$)", "i"),  # y as a vowel (Godoy, Ybarra)
        (r"v", "b"),
        (r"w", "b"),
        (r"mb", "nb"),
        (r"tz|ts", "s"),
        (r"(.)\1+", r"\1"),
    )
)
_VOWELS = re.compile(r"[aeiou]")


@lru_cache(maxsize=65536)
def phonetic_key(name: str) -> str:
    """Return the phonetic key of one folded name token ('' for an empty name)."""
    text = name
    for pattern, repl in _RULES:
        text = pattern.sub(repl, text)
    if not text:
        return ""
    head, tail = text[0], _VOWELS.sub("", text[1:])
    if head in "aeiou":
        head = "A"
    key = head + tail
    # Collapse doubles exposed by vowel removal (Arnandes -> rnnds -> rnds).
    return re.sub(r"(.)\1+", r"\1", key)
