"""Italian lexicon post-correction of Whisper transcripts.

Whisper base decodes telephone Italian mostly right at the sound level but often
spells the result as a non-word: a letter too many or too few ("acoustico",
"sterisco", "cazella"), a word cut in two ("a sterisco", "con gratulazioni") or two
words glued together ("infuturo", "suonome"). Those non-words also break the
dialogue's keyword and zone matching. A word-frequency lexicon of written Italian
(the ``wordfreq`` package, 320k words with Zipf frequencies, no network) fixes most
of them with three conservative rules, applied only to words that are (almost)
absent from written Italian:

* join an unknown word with its neighbour when the two make a common word;
* split an unknown word into two common words;
* replace an unknown word with the most frequent word one edit away, when that
  word is far more common (a Zipf margin, so a rare but real word is left alone).

Names are protected: a capitalised word is never split or respelled, nor any word
after "mi chiamo", "sono", "cognome"...; e-mail and web addresses are left whole. The
tenant's vocabulary (zones, streets, property words: the same text given to Whisper
as its prompt) counts as known words, and a word one edit from one of them ("Isora",
"navegli") is left for the zone matcher, which knows the context.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

log = logging.getLogger(__name__)

# Letters a one-edit candidate may use: Italian has the five accented vowels.
_ALPHABET = "abcdefghijklmnopqrstuvwxyzàèéìòù"
_TOKEN = re.compile(r"[^\W\d_]+|[\W\d_]+")
_SENTENCE_END = re.compile(r"[.!?]\s*$")


@dataclass(frozen=True)
class LexiconRules:
    """Thresholds in Zipf units (log10 of occurrences per billion words).

    Chosen on half of the Asterisk Italian prompts and checked on the other half
    (docs/speech.md): Zipf 1 is a word seen about once in 100 million.
    """

    unknown_below: float = 1.0  # a word rarer than this may be joined or split
    join_min: float = 3.0  # the joined word must be at least this common
    split_min: float = 4.5  # both halves of a split must be at least this common
    edit_max_zipf: float = 2.0  # only words rarer than this are respelled
    edit_margin: float = 2.0  # ... into a word this many Zipf units more common
    edit_min_len: int = 5  # shorter words have too many one-edit neighbours


class ItalianLexicon:
    """Word frequencies of written Italian and the correction rules built on them."""

    def __init__(
        self,
        frequencies: dict[str, float] | None = None,
        rules: LexiconRules | None = None,
        language: str = "it",
    ) -> None:
        self.rules = rules or LexiconRules()
        self.language = language
        self._zipf: dict[str, float] | None = frequencies

    def load(self) -> None:
        """Load the frequency list (~0.1 s, ~40 MB); raises ImportError without wordfreq."""
        if self._zipf is not None:
            return
        import wordfreq

        freqs = wordfreq.get_frequency_dict(self.language, wordlist="large")
        self._zipf = {w: math.log10(f * 1e9) for w, f in freqs.items() if f > 0}
        log.info("loaded %d %s words for transcript correction", len(self._zipf), self.language)

    def zipf(self, word: str, extra: dict[str, float] | None = None) -> float:
        if self._zipf is None:
            self.load()
        assert self._zipf is not None
        w = word.lower()
        if extra and w in extra:
            return extra[w]
        return self._zipf.get(w, 0.0)

    # -- correction ------------------------------------------------------------------
    def correct(self, text: str, vocabulary: Iterable[str] = ()) -> str:
        """``text`` with non-words joined, split or respelled; everything else as is."""
        if not text.strip():
            return text
        # Tenant words are known and as common as everyday words: a zone is never
        # "corrected", and a word one edit from a zone ("Isora", "navegli") is left for
        # the zone matcher, which knows the context ("in zona ...") this module does not.
        extra = {w.lower(): 5.0 for v in vocabulary for w in _words(v)}
        parts = _TOKEN.findall(text)
        frozen = _frozen(parts, extra)
        out = list(parts)
        r = self.rules

        def free(k: int | None) -> bool:
            return k is not None and _is_word(parts[k]) and k not in frozen

        i = 0
        while i < len(parts):
            word = parts[i]
            if not free(i):
                i += 1
                continue
            z = self.zipf(word, extra)
            nxt = i + 2 if i + 2 < len(parts) and parts[i + 1] == " " else None
            nxt = nxt if free(nxt) else None
            prv = i - 2 if i >= 2 and parts[i - 1] == " " and out[i - 2] == parts[i - 2] else None
            prv = prv if free(prv) else None
            if z < r.unknown_below:
                # "a sterisco": the unknown half and a neighbour make one common word.
                if nxt is not None and self.zipf(word + parts[nxt], extra) >= r.join_min:
                    out[i] = word + parts[nxt].lower()
                    out[i + 1] = out[nxt] = ""
                    i = nxt + 1
                    continue
                if prv is not None and self.zipf(parts[prv] + word, extra) >= r.join_min:
                    out[prv] = parts[prv] + word.lower()
                    out[i - 1] = out[i] = ""
                    i += 1
                    continue
            # Capitalised words are never split or respelled: surnames are often one
            # edit from a common word ("Mapelli" / "capelli", "Zonca" / "zona"), and
            # "Mapelli è il mio cognome" opens a sentence like any other word.
            if word[0].isupper():
                i += 1
                continue
            if z == 0.0:
                split = self._best_split(word, extra)
                if split is not None:
                    out[i] = split
                    i += 1
                    continue
            if z < r.edit_max_zipf and len(word) >= r.edit_min_len:
                best = self._best_edit(word, extra)
                if best is not None and self.zipf(best, extra) >= z + r.edit_margin:
                    out[i] = best
            i += 1
        return "".join(out)

    def non_words(self, text: str, vocabulary: Iterable[str] = ()) -> int:
        """How many lowercase words of ``text`` are (almost) absent from written Italian."""
        extra = {w.lower(): 5.0 for v in vocabulary for w in _words(v)}
        return sum(
            1
            for w in _words(text)
            if not w[0].isupper() and self.zipf(w, extra) < self.rules.unknown_below
        )

    def _best_split(self, word: str, extra: dict[str, float]) -> str | None:
        best: tuple[float, str] | None = None
        lower = word.lower()
        for k in range(2, len(lower) - 1):
            score = min(self.zipf(lower[:k], extra), self.zipf(lower[k:], extra))
            if score >= self.rules.split_min and (best is None or score > best[0]):
                best = (score, word[:k] + " " + lower[k:])
        return best[1] if best else None

    def _best_edit(self, word: str, extra: dict[str, float]) -> str | None:
        lower = word.lower()
        best: tuple[float, str] | None = None
        for cand in _edits1(lower):
            z = self.zipf(cand, extra)
            if z > 0 and (best is None or z > best[0]):
                best = (z, cand)
        return best[1] if best else None


@functools.cache
def shared_lexicon(language: str = "it") -> ItalianLexicon:
    """One lexicon per process and language: the list takes ~50 MB, and both Whisper's
    correction and the zone matcher read it."""
    return ItalianLexicon(language=language)


# Words after which a caller gives a name: never respelled even in lowercase
# ("mi chiamo mapelli").
_NAME_CUES = frozenset({"chiamo", "sono", "cognome", "nome", "signor", "signora", "sig"})


def _frozen(parts: list[str], extra: dict[str, float]) -> set[int]:
    """Indexes of tokens the rules must not touch.

    * names: a capitalised word inside a sentence, any word after a name cue;
    * tenant words and words one edit from one (left for the zone matcher);
    * e-mail and web addresses: a run without spaces holding "@" or a dot between
      letters ("mariorossi@libero.it", "casamilano.it").
    """
    frozen: set[int] = set()
    start = 0
    for k in range(len(parts) + 1):
        if k == len(parts) or any(c.isspace() for c in parts[k]):
            chunk = "".join(parts[start:k])
            if "@" in chunk or re.search(r"[^\W\d_]\.[^\W\d_]", chunk):
                frozen.update(range(start, k))
            start = k + 1
    previous = ""
    for k, token in enumerate(parts):
        if not _is_word(token):
            continue
        lower = token.lower()
        before = "".join(parts[:k])
        inside_sentence = bool(before.strip()) and not _SENTENCE_END.search(before)
        if (
            (token[0].isupper() and inside_sentence)
            or previous in _NAME_CUES
            or lower in extra
            or (extra and any(e in extra for e in _edits1(lower)))
        ):
            frozen.add(k)
        previous = lower
    return frozen


def _is_word(token: str) -> bool:
    return bool(token) and token[0].isalpha()


def _words(text: str) -> list[str]:
    return [t for t in _TOKEN.findall(text) if _is_word(t)]


def _edits1(word: str) -> set[str]:
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    transposes = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in _ALPHABET}
    inserts = {a + c + b for a, b in splits for c in _ALPHABET}
    return (deletes | transposes | replaces | inserts) - {word}
