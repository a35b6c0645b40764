"""Typo / STT-error correction towards the words the extractors look for.

"vrrei vendre un apartamento, doomani matina" becomes "vrrei vendere un
appartamento, domani mattina" before the rules read it. Only lowercase words of
5+ letters are touched (capitalised words are names or places), only towards a
single keyword of 6+ letters within one edit, and never when the word is itself
a known word: "centro" must not become "cento", nor "quando" "quanto".
"""

from __future__ import annotations

import re
from functools import lru_cache

from rapidfuzz.distance import Levenshtein

from agent.extraction.text import fold


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


KEYWORDS = _words(
    """
    comprare acquistare acquisto vendere venderlo venderla vendita affittare affitto
    affittarlo affittarla locazione valutazione valutare quanto stima
    locale locali monolocale bilocale trilocale quadrilocale appartamento villetta attico
    mansarda indipendente ufficio negozio capannone garage terreno edificabile
    urgente urgenza subito immediato immediatamente possibile fretta prossimi
    settimana settimane calma guardando
    domani dopodomani lunedi martedi mercoledi giovedi venerdi sabato domenica
    mattina mattinata pomeriggio serata stasera pranzo weekend
    richiamare richiamatemi richiamarmi chiamatemi contattarmi
    milione milioni mila mille cento duecento trecento quattrocento cinquecento
    seicento settecento ottocento novecento cinquanta sessanta settanta ottanta
    novanta quaranta trenta venti massimo minimo almeno circa budget euro
    arrivederci arrivederla giornata operatore persona ripetere capito saprei
    indifferente preferenze corretto esatto esattamente perfetto confermo
    numero cellulare telefono chiamo vorrei grazie quattro cinque
    """
)
# Real words close to a keyword that must stay as they are.
ANCHORS = _words(
    """
    centro centri vendite vendute venduto vendendo affitti affittato affittata
    valutato valutata valutati stime stimato stato stata mattino mattine sere
    serate pranzi settembre dicembre novembre ottobre persone personale persona
    numeri telefonato telefonata chiamato chiamata chiami chiama giornate giorno giorni
    mille milano milanese cento cente trecce terrazzo terrazza terrazzino
    ville villa villaggio uffici negozi garages terreni massima minima
    guardare guardato calmo campo cerco cerca cercare vicino vicina casa case
    comprato compra compro vendo ripetuto capita capire esatta esatti perfetta
    corretta corretti confermato confermare possibili possibilita pomeriggi
    richiamato richiamata contattato contatto preferenza preferisco
    quando quanti quanta quante prossimo prossima prossime prendere prendo
    presto prima primo seconda secondo terzo quarto quinto piano piani metri
    mattinate pomeriggio ottimo ottima nuovo nuova nuove usato usata giardino
    figli figlio figlia moglie marito famiglia lavoro lavora studente studenti
    grande grandi piccolo piccola sempre ancora allora magari comunque almeno
    vedere vederlo vederla vederli vedremo visto vista venire venuto venuta rendere
    credere chiedere chiesto spendere spese salire scendere
    """
)
_VOCAB = tuple(sorted(KEYWORDS))
_TEXT_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ]+")


@lru_cache(maxsize=8192)
def correct_word(word: str) -> str:
    if len(word) < 5 or word in KEYWORDS or word in ANCHORS:
        return word
    # One edit only: two edits turn real words into keywords ("prendere" -> "vendere").
    limit = 1
    best = ""
    best_d = limit + 1
    tie = False
    for cand in _VOCAB:
        # A 5-letter word may only be a 6-letter keyword missing a letter ("subto").
        if abs(len(cand) - len(word)) > limit or len(cand) < 6:
            continue
        d = Levenshtein.distance(word, cand, score_cutoff=limit)
        if d < best_d:
            best, best_d, tie = cand, d, False
        elif d == best_d and d <= limit:
            tie = True
    # Ambiguous corrections are worse than none.
    return best if best and best_d <= limit and not tie else word


def correct(text: str) -> str:
    """Correct the lowercase words of ``text``; capitalised ones (names, places) stay."""

    def fix(m: re.Match[str]) -> str:
        word = m.group(0)
        if not word.islower():
            return word
        folded = fold(word)
        fixed = correct_word(folded)
        return fixed if fixed != folded else word

    return _TEXT_WORD.sub(fix, text)
