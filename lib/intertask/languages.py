"""Language metadata for every XTREME-R language (and every language of this project's tasks).

One `Language` per language, keyed by the code the project uses: the ISO 639-1 code, or the
ISO 639-3 code where a language has no 639-1 code (none of the current 50 needs that). Reports use
it to group results by family, genus or script.

Sources, per field:

- ``code``, ``iso639_3``, ``name``: the ISO 639-3 code tables (SIL, iso-639-3.tab: the ``Part1``
  column gives the 639-1 counterpart). Where the 639-1 code stands for a *macrolanguage* (ar, az, et,
  fa, ms, qu, sw, zh) ``iso639_3`` is the macrolanguage code the table pairs it with (ara, aze, est,
  fas, msa, que, swa, zho); the individual-language codes the data sets actually use (Tatoeba's
  ``cmn``, ``pes``, ``swh``; ``arb``, ``zsm``, ...) are accepted as aliases by `get_language`. Names
  are the usual English names, shortened from the ISO reference names ("Modern Greek (1453-)" ->
  "Greek", "Panjabi" -> "Punjabi", "Haitian" -> "Haitian Creole").
- ``family``: Glottolog 4.x top-level family, with WALS 2013 names where Glottolog has a
  competing name and WALS's is the more familiar (Niger-Congo); every departure from either source
  is commented in the table below.
- ``genus``: the WALS 2013 genus (Dryer's genera: Germanic, Romance, Slavic, Indic, Semitic, ...).
- ``script``: the main script of the language *as it appears in the XTREME-R data*, as its ISO 15924
  English name without the parenthesised aliases ("Myanmar (Burmese)" -> "Myanmar"); the 4-letter
  ISO 15924 code is in `SCRIPT_CODES`.

Where WALS and Glottolog disagree at family level (Turkic vs. WALS's "Altaic"; Japonic and
Koreanic vs. WALS's "Japanese" and "Korean"; Haitian Creole) the choice and its reason is noted
next to the entry.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Iterable

from .tasks import UnknownLanguageError

if TYPE_CHECKING:  # pandas is imported lazily, in language_frame()
    import pandas as pd

__all__ = ["Language", "LANGUAGES", "SCRIPT_CODES", "XTREME_R_LANGUAGES", "UnknownLanguageError",
           "get_language", "language_frame", "families_of"]


@dataclass(frozen=True)
class Language:
    """Metadata of one language; see the module docstring for the source of each field."""

    code: str       # project key: ISO 639-1, else ISO 639-3
    iso639_3: str   # ISO 639-3 (the macrolanguage code where 639-1 names a macrolanguage)
    name: str       # English name (ISO 639 reference name, shortened)
    family: str     # top-level family (Glottolog 4.x; WALS 2013 naming for Niger-Congo)
    genus: str      # WALS 2013 genus
    script: str     # main script, ISO 15924 English name


# ISO 15924 code of each script name used below.
SCRIPT_CODES: dict[str, str] = {
    "Latin": "Latn", "Cyrillic": "Cyrl", "Greek": "Grek", "Arabic": "Arab", "Hebrew": "Hebr",
    "Devanagari": "Deva", "Bengali": "Beng", "Gujarati": "Gujr", "Gurmukhi": "Guru", "Tamil": "Taml",
    "Telugu": "Telu", "Malayalam": "Mlym", "Thai": "Thai", "Myanmar": "Mymr", "Georgian": "Geor",
    "Han": "Hani", "Hangul": "Hang", "Japanese": "Jpan",
}

IE = "Indo-European"
NC = "Niger-Congo"

# code, ISO 639-3, name, family, WALS genus, script
_TABLE: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("af", "afr", "Afrikaans", IE, "Germanic", "Latin"),
    ("ar", "ara", "Arabic", "Afro-Asiatic", "Semitic", "Arabic"),
    # Turkic languages: WALS 2013 puts the Turkic genus in an "Altaic" family; Glottolog (and most
    # historical linguists) do not accept Altaic, so the family is Turkic. Same for kk and tr.
    ("az", "aze", "Azerbaijani", "Turkic", "Turkic", "Latin"),  # Latin in Azerbaijan; Arabic in Iran
    ("bg", "bul", "Bulgarian", IE, "Slavic", "Cyrillic"),
    ("bn", "ben", "Bengali", IE, "Indic", "Bengali"),
    ("de", "deu", "German", IE, "Germanic", "Latin"),
    ("el", "ell", "Greek", IE, "Greek", "Greek"),
    ("en", "eng", "English", IE, "Germanic", "Latin"),
    ("es", "spa", "Spanish", IE, "Romance", "Latin"),
    ("et", "est", "Estonian", "Uralic", "Finnic", "Latin"),
    # Basque: an isolate in both sources (WALS: family and genus "Basque"); the family string says so.
    ("eu", "eus", "Basque", "Basque (isolate)", "Basque", "Latin"),
    ("fa", "fas", "Persian", IE, "Iranian", "Arabic"),
    ("fi", "fin", "Finnish", "Uralic", "Finnic", "Latin"),
    ("fr", "fra", "French", IE, "Romance", "Latin"),
    ("gu", "guj", "Gujarati", IE, "Indic", "Gujarati"),
    ("he", "heb", "Hebrew", "Afro-Asiatic", "Semitic", "Hebrew"),
    ("hi", "hin", "Hindi", IE, "Indic", "Devanagari"),
    # Haitian Creole: WALS lists it under family "other", genus "Creoles and Pidgins"; Glottolog
    # (as far as we could check, not verified against 4.x) files creoles under their lexifier, here
    # French, i.e. Indo-European; Ethnologue says "Creole, French based". We keep creoles apart
    # as family "Creole": its grammar is not French's, and grouping it with Romance would blur a
    # family-level analysis. Genus follows WALS.
    ("ht", "hat", "Haitian Creole", "Creole", "Creoles and Pidgins", "Latin"),
    ("hu", "hun", "Hungarian", "Uralic", "Ugric", "Latin"),
    ("id", "ind", "Indonesian", "Austronesian", "Malayo-Sumbawan", "Latin"),
    ("it", "ita", "Italian", IE, "Romance", "Latin"),
    # Japanese: WALS family and genus "Japanese"; Glottolog's family "Japonic" (Japanese plus the
    # Ryukyuan languages) is used for the family, WALS's genus name is kept. Script: ISO 15924 "Jpan"
    # (Han + Hiragana + Katakana), not plain Han, since kana carry most of the grammar.
    ("ja", "jpn", "Japanese", "Japonic", "Japanese", "Japanese"),
    ("jv", "jav", "Javanese", "Austronesian", "Javanese", "Latin"),  # the Javanese script is rare in the data
    ("ka", "kat", "Georgian", "Kartvelian", "Kartvelian", "Georgian"),
    ("kk", "kaz", "Kazakh", "Turkic", "Turkic", "Cyrillic"),  # Kazakhstan's Latin switch is not in the data
    # Korean: WALS family and genus "Korean"; Glottolog family "Koreanic" (Korean plus Jeju).
    # Modern Korean text is Hangul; Han characters (hanja) are rare, so Hangul rather than "Kore".
    ("ko", "kor", "Korean", "Koreanic", "Korean", "Hangul"),
    ("lt", "lit", "Lithuanian", IE, "Baltic", "Latin"),
    ("ml", "mal", "Malayalam", "Dravidian", "Southern Dravidian", "Malayalam"),
    ("mr", "mar", "Marathi", IE, "Indic", "Devanagari"),
    ("ms", "msa", "Malay", "Austronesian", "Malayo-Sumbawan", "Latin"),
    ("my", "mya", "Burmese", "Sino-Tibetan", "Burmese-Lolo", "Myanmar"),
    ("nl", "nld", "Dutch", IE, "Germanic", "Latin"),
    ("pa", "pan", "Punjabi", IE, "Indic", "Gurmukhi"),  # Eastern Punjabi (pan); Shahmukhi is Western (pnb)
    ("pl", "pol", "Polish", IE, "Slavic", "Latin"),
    ("pt", "por", "Portuguese", IE, "Romance", "Latin"),
    ("qu", "que", "Quechua", "Quechuan", "Quechuan", "Latin"),
    ("ro", "ron", "Romanian", IE, "Romance", "Latin"),
    ("ru", "rus", "Russian", IE, "Slavic", "Cyrillic"),
    # Swahili, Wolof, Yoruba: WALS 2013 family "Niger-Congo"; Glottolog 4.x names the demonstrable
    # family "Atlantic-Congo" (it does not accept Niger-Congo as proven). Both cover all three
    # languages, so the grouping is the same; we use the better-known WALS name.
    ("sw", "swa", "Swahili", NC, "Bantoid", "Latin"),
    ("ta", "tam", "Tamil", "Dravidian", "Southern Dravidian", "Tamil"),
    ("te", "tel", "Telugu", "Dravidian", "South-Central Dravidian", "Telugu"),
    # Thai: WALS and Glottolog both say "Tai-Kadai" (now often called Kra-Dai).
    ("th", "tha", "Thai", "Tai-Kadai", "Kam-Tai", "Thai"),
    ("tl", "tgl", "Tagalog", "Austronesian", "Greater Central Philippine", "Latin"),
    ("tr", "tur", "Turkish", "Turkic", "Turkic", "Latin"),
    ("uk", "ukr", "Ukrainian", IE, "Slavic", "Cyrillic"),
    ("ur", "urd", "Urdu", IE, "Indic", "Arabic"),  # Perso-Arabic script (Nastaliq style)
    # Vietnamese: WALS spells the family "Austro-Asiatic", Glottolog "Austroasiatic" (used here).
    ("vi", "vie", "Vietnamese", "Austroasiatic", "Viet-Muong", "Latin"),
    ("wo", "wol", "Wolof", NC, "Northern Atlantic", "Latin"),
    ("yo", "yor", "Yoruba", NC, "Defoid", "Latin"),
    # Chinese: the XTREME-R data is Mandarin in (mostly simplified) Han characters.
    ("zh", "zho", "Chinese", "Sino-Tibetan", "Chinese", "Han"),
)

LANGUAGES: dict[str, Language] = {row[0]: Language(*row) for row in _TABLE}

# The 50 languages of XTREME-R (Ruder et al. 2021); every task in intertask.registry uses a subset.
XTREME_R_LANGUAGES: tuple[str, ...] = tuple(sorted(LANGUAGES))

# Other codes accepted by get_language: ISO 639-3 individual languages inside a macrolanguage (the
# codes data sets use, e.g. Tatoeba's file names) and ISO 639-2/B bibliographic codes.
_ALIASES: dict[str, str] = {
    # individual languages of macrolanguages
    "arb": "ar", "azj": "az", "azb": "az", "ekk": "et", "pes": "fa", "zsm": "ms", "swh": "sw",
    "cmn": "zh", "quz": "qu", "quy": "qu",
    # ISO 639-2/B
    "baq": "eu", "bur": "my", "chi": "zh", "dut": "nl", "fre": "fr", "geo": "ka", "ger": "de",
    "gre": "el", "may": "ms", "per": "fa", "rum": "ro",
}
_BY_ISO639_3: dict[str, str] = {lang.iso639_3: lang.code for lang in LANGUAGES.values()}


def _resolve(code: str) -> str | None:
    key = code.strip().lower()
    if key in LANGUAGES:
        return key
    return _BY_ISO639_3.get(key) or _ALIASES.get(key)


def _suggestions(code: str, n: int = 4) -> list[str]:
    """Project codes whose code, 639-3 code, alias or English name is close to `code`."""
    candidates: dict[str, str] = {}  # candidate string -> project code
    for lang in LANGUAGES.values():
        candidates[lang.code] = lang.code
        candidates[lang.iso639_3] = lang.code
        candidates[lang.name.lower()] = lang.code
    for alias, target in _ALIASES.items():
        candidates[alias] = target
    found: list[str] = []
    for match in difflib.get_close_matches(code.strip().lower(), candidates, n=3 * n, cutoff=0.5):
        if candidates[match] not in found:
            found.append(candidates[match])
    return found[:n]


def get_language(code: str) -> Language:
    """The `Language` for a project code (ISO 639-1), an ISO 639-3 code ("deu", "cmn") or a 639-2/B code.

    Raises `UnknownLanguageError` naming the closest known languages.
    """
    key = _resolve(code)
    if key is not None:
        return LANGUAGES[key]
    close = _suggestions(code)
    hint = (" Did you mean " + ", ".join(f"{c!r} ({LANGUAGES[c].name})" for c in close) + "?") if close else ""
    raise UnknownLanguageError(
        f"unknown language code {code!r}.{hint} Known codes: {', '.join(sorted(LANGUAGES))}"
    )


def families_of(codes: Iterable[str]) -> dict[str, str]:
    """Family of each code, keyed by the code as given (any code `get_language` accepts)."""
    return {code: get_language(code).family for code in codes}


def language_frame() -> "pd.DataFrame":
    """All languages as a pandas DataFrame, one row per language sorted by code.

    Columns: the `Language` fields plus ``script_code`` (ISO 15924).
    """
    import pandas as pd

    columns = [f.name for f in fields(Language)]
    rows = [[getattr(lang, c) for c in columns] + [SCRIPT_CODES[lang.script]]
            for _, lang in sorted(LANGUAGES.items())]
    return pd.DataFrame(rows, columns=columns + ["script_code"])
