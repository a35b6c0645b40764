"""Caller names: "mi chiamo Mario Rossi", "sono Giulia Bianchi", "Rossi Mario", "Mario Rossi".

"Sono" is also "I am" ("sono interessato", "sono di Milano"), so after "sono"
a name is only taken when it looks like one: capitalised by Whisper, or a known
Italian first name. A bare "Mario Rossi" is taken only when the agent has just
asked for the name.
"""

from __future__ import annotations

import re

from agent.extraction.text import fold, title_name


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


FIRST_NAMES = _wordset(
    """
    mario giuseppe giovanni antonio francesco luigi paolo marco andrea luca
    alessandro roberto stefano angelo vincenzo salvatore pietro michele carlo
    franco domenico bruno sergio giorgio fabio massimo maurizio claudio enrico
    davide simone matteo lorenzo riccardo federico gabriele tommaso leonardo
    filippo emanuele daniele alberto giacomo nicola raffaele cesare dario piero
    edoardo jacopo diego valerio gianni ivan mattia samuele christian cristian
    maria anna giulia francesca laura sara chiara paola elena valentina silvia
    federica alessandra roberta giovanna rosa angela lucia barbara monica
    daniela cristina elisa martina simona teresa patrizia carla giorgia alice
    aurora sofia beatrice emma greta ginevra ilaria serena claudia marta
    veronica michela antonella manuela stefania sabrina luisa franca rita
    caterina irene camilla arianna noemi viola lisa eleonora nadia erica
    """
)

# Words that end a name (or show that "sono ..." is not followed by one).
_NOT_NAME = _wordset(
    """
    a ad al alla ai agli allo da dal dalla dai di del della dei degli in nel nella
    e ed o ma che chi con per su sul tra fra il lo la i gli le un uno una non
    sono sei e' era mi ti si ci vi ne io lei lui noi voi loro qui qua li la' ecco
    interessato interessata interessati cerco cerchiamo vorrei volevo voglio
    chiamo chiamato chiamata chiamando telefono numero nome cognome
    buongiorno buonasera salve ciao grazie prego si no certo ok okay allora
    dunque beh bene allora comunque proprio molto poco gia appena sempre ancora
    proprietario proprietaria cliente signor signora signore dottor dottore
    dottoressa ingegner ingegnere avvocato geometra architetto
    qui un' l' d' dell' all' nell' quello quella questo questa
    budget euro mila milioni acquistare comprare vendere affittare affitto
    valutazione urgente subito domani oggi mattina pomeriggio sera
    stato stata venuto venuta nato nata rimasto molto contento contenta
    disponibile libero libera tornato tornata sposato sposata
    ho hai ha abbiamo avete hanno sto stiamo vivo abito devo dovrei avrei possiedo posso
    vorremmo volevamo cercavo chiamavo pensavo avevo stavo
    quanto quanta quanti quante quale quali dove quando perche
    arrivederci arrivederla saluti buona buon giornata serata addio presto
    zona quartiere via piazza viale corso centro periferia
    puo potrebbe potete ripetere ripeta scusi scusa come cosa capito sentito senta guardi
    aspetti attenda pronto momento perfetto esatto giusto sbagliato corretto
    """
)
# Words that are also Italian surnames (Villa, Casa, Monti...) or places: they end a
# name unless written capitalised in the middle of capitalised (Whisper) text.
_SOFT_NOT_NAME = _wordset(
    """
    milano roma torino napoli bologna firenze casa appartamento bilocale trilocale
    monolocale villa villetta attico ufficio negozio box terreno loft mansarda
    """
)
_TITLES = _wordset(
    "signor signora signore sig dottor dottore dottoressa dott ing ingegner avvocato avv"
)
_PARTICLES = frozenset({"de", "di", "del", "della", "la", "lo", "d", "dal", "dalla", "van", "von"})
_TRIGGERS = (
    ("mi", "chiamo"),
    # Whisper glues the two words on fast 8 kHz speech ("Michiamo Mario Rossi").
    ("michiamo",),
    ("il", "mio", "nome", "e"),
    ("mio", "nome", "e"),
    ("nome", "e"),
    ("qui", "e"),
    ("qui", "parla"),
    ("parla",),
    ("sono",),
)
_FILLERS = _wordset(
    "allora si certo ok okay ecco dunque beh buongiorno buonasera salve prego "
    "allora sì volentieri piacere guardi senta"
)
# Punctuation is kept as a "|" token: a name never runs across it ("Barbara. Quanto").
_TOKEN = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ]+(?:'[A-Za-zÀ-ÖØ-öø-ÿ]+)?|[.,;:!?]")


def _name_tokens(
    orig: list[str], folded: list[str], start: int, strict: bool, mixed_case: bool = False
) -> list[str]:
    """Up to 3 name-like tokens from ``start``; titles are skipped."""
    out: list[str] = []
    i = start
    titled = False
    # "sono il signor Ferrari", "la dottoressa Bianchi": a title announces a name.
    while i < len(folded) and (
        folded[i] in _TITLES
        or (folded[i] in ("il", "la") and i + 1 < len(folded) and folded[i + 1] in _TITLES)
    ):
        titled = titled or folded[i] in _TITLES
        i += 1
    strict = strict and not titled
    while i < len(folded) and len(out) < 4:
        f = folded[i]
        if f in _PARTICLES and out and i + 1 < len(folded):
            # "Mario De Luca": a particle only when written capitalised.
            if (orig[i][:1].isupper() or not mixed_case) and folded[i + 1] not in _NOT_NAME:
                out.append(orig[i])
                i += 1
                continue
            break
        if f in _NOT_NAME or len(f) < 2 or not f.replace("'", "").isalpha():
            break
        if f in _SOFT_NOT_NAME and not (out and mixed_case and orig[i][:1].isupper()):
            break
        # In Whisper's capitalised text a name goes on only with capitalised words.
        if out and mixed_case and out[0][:1].isupper() and not orig[i][:1].isupper():
            break
        if strict and not out:
            capitalised = orig[i][:1].isupper() and not orig[i].isupper()
            if not capitalised and f not in FIRST_NAMES:
                break
        out.append(orig[i])
        i += 1
    # A trailing particle is never part of a name.
    while out and fold(out[-1]) in _PARTICLES:
        out.pop()
    return out[:3]


def _order(tokens: list[str]) -> str:
    folded = [fold(t) for t in tokens]
    # "Rossi Mario" (surname first, as on forms): put the first name first.
    if len(tokens) == 2 and folded[1] in FIRST_NAMES and folded[0] not in FIRST_NAMES:
        tokens = [tokens[1], tokens[0]]
    return title_name(" ".join(tokens))


def extract_name(text: str, *, expecting: bool = False) -> tuple[str, float] | None:
    orig = _TOKEN.findall(text)
    folded = [fold(t).replace("' ", "'") if t.isalpha() or "'" in t else "|" for t in orig]
    lowercase_text = text == text.lower()
    for trigger in _TRIGGERS:
        n = len(trigger)
        for i in range(len(folded) - n + 1):
            if tuple(folded[i : i + n]) != trigger:
                continue
            weak = trigger in (("sono",), ("parla",))
            # In lowercase chat text capitalisation says nothing: rely on the names list.
            toks = _name_tokens(
                orig, folded, i + n, strict=weak and not expecting, mixed_case=not lowercase_text
            )
            unknown = bool(toks) and fold(toks[0]) not in FIRST_NAMES
            if weak and unknown and lowercase_text and not expecting:
                continue
            if toks:
                conf = 0.9 if not weak else 0.8
                if len(toks) == 1:
                    conf -= 0.2
                return _order(toks), round(conf, 2)
    if expecting:
        # The answer may start after a filler or a first clause: "sì, sono io, Marco Bianchi".
        starts = [0] + [k + 1 for k, f in enumerate(folded) if f == "|"]
        for start in starts:
            i = start
            while i < len(folded) and (folded[i] in _FILLERS or folded[i] == "|"):
                i += 1
            toks = _name_tokens(orig, folded, i, strict=False, mixed_case=not lowercase_text)
            rest = [f for f in folded[i:] if f != "|"]
            end = i + len(toks)
            closed = (
                end < len(folded)
                and folded[end] == "|"
                and any(fold(t) in FIRST_NAMES for t in toks)
            )
            # A bare answer is a name only if nothing else follows it (or only after a
            # pause: "Mario Rossi, cerco un bilocale").
            if toks and (closed or len(toks) >= max(1, len(rest) - 1)):
                conf = 0.75 if len(toks) > 1 else 0.6
                return _order(toks), conf
    return None
