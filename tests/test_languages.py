"""Language metadata: coverage of every task language, spot checks of facts, lookups and errors."""

from __future__ import annotations

import pytest

from intertask.languages import (LANGUAGES, SCRIPT_CODES, XTREME_R_LANGUAGES, Language, families_of, get_language,
                                 language_frame)
from intertask.registry import REGISTRY
from intertask.registry.targets import TATOEBA_CODES
from intertask.tasks import UnknownLanguageError


def test_every_task_language_has_metadata():
    missing = {(task.name, lang) for task in REGISTRY.values()
               for lang in (*task.languages, task.train_language) if lang not in LANGUAGES}
    assert not missing


def test_xtreme_r_has_50_languages_and_tasks_cover_them():
    assert len(XTREME_R_LANGUAGES) == 50
    used = {lang for task in REGISTRY.values() for lang in task.languages}
    assert used <= set(XTREME_R_LANGUAGES)
    assert {"fa", "pl", "wo", "yo", "qu", "ht"} <= used


def test_table_is_well_formed():
    for code, lang in LANGUAGES.items():
        assert code == lang.code
        assert len(code) == 2 and code.islower()
        assert len(lang.iso639_3) == 3 and lang.iso639_3.islower()
        assert lang.name and lang.family and lang.genus
        assert lang.script in SCRIPT_CODES
    assert len({lang.iso639_3 for lang in LANGUAGES.values()}) == len(LANGUAGES)


@pytest.mark.parametrize("code,family,genus,script", [
    ("de", "Indo-European", "Germanic", "Latin"),
    ("zh", "Sino-Tibetan", "Chinese", "Han"),
    ("sw", "Niger-Congo", "Bantoid", "Latin"),
    ("fi", "Uralic", "Finnic", "Latin"),
    ("ar", "Afro-Asiatic", "Semitic", "Arabic"),
    ("hi", "Indo-European", "Indic", "Devanagari"),
    ("ur", "Indo-European", "Indic", "Arabic"),
    ("ja", "Japonic", "Japanese", "Japanese"),
    ("ko", "Koreanic", "Korean", "Hangul"),
    ("tr", "Turkic", "Turkic", "Latin"),
    ("kk", "Turkic", "Turkic", "Cyrillic"),
    ("th", "Tai-Kadai", "Kam-Tai", "Thai"),
    ("vi", "Austroasiatic", "Viet-Muong", "Latin"),
    ("id", "Austronesian", "Malayo-Sumbawan", "Latin"),
    ("ta", "Dravidian", "Southern Dravidian", "Tamil"),
    ("ka", "Kartvelian", "Kartvelian", "Georgian"),
    ("qu", "Quechuan", "Quechuan", "Latin"),
    ("ru", "Indo-European", "Slavic", "Cyrillic"),
    ("fa", "Indo-European", "Iranian", "Arabic"),
    ("yo", "Niger-Congo", "Defoid", "Latin"),
])
def test_spot_checks(code, family, genus, script):
    lang = get_language(code)
    assert (lang.family, lang.genus, lang.script) == (family, genus, script)


def test_isolate_and_creole():
    assert "isolate" in get_language("eu").family
    assert get_language("ht").family == "Creole"


@pytest.mark.parametrize("alias,code", [("deu", "de"), ("cmn", "zh"), ("zho", "zh"), ("pes", "fa"), ("swh", "sw"),
                                        ("ger", "de"), ("DE", "de"), (" eng ", "en")])
def test_other_codes_resolve(alias, code):
    assert get_language(alias) is LANGUAGES[code]


def test_tatoeba_file_codes_resolve_to_their_language():
    for code, file_code in TATOEBA_CODES.items():
        assert get_language(file_code).code == code


def test_unknown_code_lists_close_matches():
    with pytest.raises(UnknownLanguageError) as e:
        get_language("dee")
    assert "'de' (German)" in str(e.value) and "Did you mean" in str(e.value)
    with pytest.raises(UnknownLanguageError) as e:
        get_language("germna")
    assert "'de'" in str(e.value)
    with pytest.raises(UnknownLanguageError) as e:
        get_language("qqqqq")
    assert "Known codes: af, ar" in str(e.value)


def test_families_of():
    assert families_of(["de", "fi", "deu"]) == {"de": "Indo-European", "fi": "Uralic", "deu": "Indo-European"}
    with pytest.raises(UnknownLanguageError):
        families_of(["xx"])


def test_language_frame():
    frame = language_frame()
    assert len(frame) == len(LANGUAGES) and frame["code"].is_unique
    assert list(frame.columns)[:6] == ["code", "iso639_3", "name", "family", "genus", "script"]
    row = frame.set_index("code").loc["hi"]
    assert row["script_code"] == "Deva" and row["name"] == "Hindi"


def test_language_is_frozen():
    with pytest.raises(AttributeError):
        LANGUAGES["de"].family = "x"  # type: ignore[misc]
    assert isinstance(LANGUAGES["de"], Language)
