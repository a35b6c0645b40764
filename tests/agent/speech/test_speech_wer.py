"""The ASR benchmark's text normaliser and word error count (bench/asr.py).

The benchmark's WER is only as fair as its normaliser: these pin what counts as the
same word (digits and words, lost accents, the transcript file's misspellings) and
what still counts as an error.
"""

from __future__ import annotations

import pytest

from bench.asr import normalize, word_errors


@pytest.mark.parametrize(
    ("reference", "hypothesis"),
    [
        ("Premere 1 per attivare.", "premere uno per attivare"),
        ("budget di 300.000 euro", "budget di 300 mila euro"),
        ("interno 1234", "interno 1, 2, 3, 4"),
        ("componi 500", "componi 5.0.0"),
        ("quattordicesimo", "14 esimo"),
        ("Quella opzione ? invalida.", "Quella opzione è invalida!"),  # lost accent
        ("Casella di posta?", "casella di posta"),  # a real question mark
        ("Perpiacere prova ancora.", "Per piacere, prova ancora."),  # transcript typo
        ("N B S", "NBS."),
        ("L'elenco è vuoto", "l’elenco e vuoto"),
        ("nessun", "Nessun?"),  # Whisper's question mark is no lost accent
        ("h", "Acca."),  # a letter said by its name
        ("l come livorno", "Elle come Livorno."),
        ("vu doppia", "W"),
        ("ics", "X."),
        ("esse emme esse", "SMS"),
        ("percento", "per cento"),
        ("s", "Esse?"),
    ],
)
def test_same_words_written_differently_are_no_error(reference: str, hypothesis: str) -> None:
    assert word_errors(normalize(reference), normalize(hypothesis)) == 0


@pytest.mark.parametrize(
    ("reference", "hypothesis", "errors"),
    [
        ("premi 1, 2 o 3", "premi 12 o 3", 2),  # two digits are a list, not a number
        ("Prema 1", "Premere 1", 1),
        ("Ora sei muto", "voce disattivata", 3),
        ("Chiamata in attesa.", "che amata in attesa", 2),
        ("segnale acustico", "", 2),
        ("", "grazie", 1),
        ("d", "di", 1),  # "di" is a preposition too: never taken for a letter
        ("x", "x x", 1),
        ("parentesi aperta", "parente si aperta", 2),
    ],
)
def test_real_differences_are_counted(reference: str, hypothesis: str, errors: int) -> None:
    assert word_errors(normalize(reference), normalize(hypothesis)) == errors
