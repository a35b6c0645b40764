"""Speech recognition benchmark: WER and real-time factor of the local Whisper on the
Italian Asterisk prompts (asterisk-core-sounds-it-wav, 8 kHz telephone speech) against
the transcripts shipped in asterisk-core-sounds-it.

Text normalisation (applied to reference and hypothesis alike): lowercase, accents
removed, punctuation and apostrophes to spaces, digits spelled out in Italian words
("1" -> "uno", "162" -> "centosessantadue"; "14 esimo" -> "quattordicesimo"; three
or more single digits in a row are one number, "1, 2, 3, 4" = "1234"), acronyms
spelled letter by letter joined ("N B S" = "NBS"), and the transcript file's two
misspellings written as the dictionary does ("perpiacere", "cassella"). The file
also has accented letters replaced by "?": a lone "?" is "è", and "sar?" matches
a hypothesis word with any vowel, or none ("posta?" is a question), there. Prompts
whose transcript has bracketed parts ("[toni ascendenti]", "Il [suo] messaggio") are
excluded: whether those words are spoken is not stated.

Usage: python -m bench.asr [--limit N] [--configs beam1-fast,beam5-standard,...]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import statistics
import sys
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.audio import read_wav
from agent.audio.prompts import load_prompts
from agent.stt.settings import STTSettings
from agent.stt.whisper import WhisperSTT
from bench.machine import machine_info, machine_line

# A tenant-style vocabulary for this domain (telephone menus), passed as initial_prompt
# in the "+vocab" configurations, the way a tenant's zones and property words are.
DOMAIN_VOCABULARY = (
    "cancelletto, asterisco, interno, casella vocale, messaggio, conferenza, operatore, "
    "password, segreteria, registrazione, chiamata."
)

_UNITS = [
    "zero",
    "uno",
    "due",
    "tre",
    "quattro",
    "cinque",
    "sei",
    "sette",
    "otto",
    "nove",
    "dieci",
    "undici",
    "dodici",
    "tredici",
    "quattordici",
    "quindici",
    "sedici",
    "diciassette",
    "diciannove",
]
_UNITS.insert(18, "diciotto")
_TENS = [
    "_",
    "_",
    "venti",
    "trenta",
    "quaranta",
    "cinquanta",
    "sessanta",
    "settanta",
    "ottanta",
    "novanta",
]


def number_to_italian(n: int) -> str:
    """Cardinal number in Italian words, as one token ("duemilatrecentoquattro")."""
    if n < 0:
        return "meno" + number_to_italian(-n)
    if n < 20:
        return _UNITS[n]
    if n < 100:
        tens, unit = divmod(n, 10)
        word = _TENS[tens]
        if unit in (1, 8):
            word = word[:-1]  # ventuno, ventotto
        return word + (_UNITS[unit] if unit else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        head = "cento" if hundreds == 1 else _UNITS[hundreds] + "cento"
        if rest // 10 == 8:
            head = head[:-1]  # centottanta
        return head + (number_to_italian(rest) if rest else "")
    if n < 1_000_000:
        thousands, rest = divmod(n, 1000)
        head = "mille" if thousands == 1 else number_to_italian(thousands) + "mila"
        return head + (number_to_italian(rest) if rest else "")
    millions, rest = divmod(n, 1_000_000)
    head = "unmilione" if millions == 1 else number_to_italian(millions) + "milioni"
    return head + (number_to_italian(rest) if rest else "")


# Misspellings in core-sounds-it.txt itself, not in any Italian dictionary, written
# the dictionary's way on both sides ("Perpiacere" opens 7 prompts: 14 errors).
SPELLING = {"perpiacere": "per piacere", "cassella": "casella"}
# Two spellings the dictionary gives for one word: written one way on both sides.
VARIANTS = {"per cento": "percento", "vu doppia": "w", "doppia vu": "w"}
# A letter said alone is said by its Italian name ("h" is "acca", "x" is "ics"): the
# transcript writes the letter, Whisper often the name. Not the names that are common
# Italian words ("di", "ci", "pi", "e" are prepositions, pronouns, conjunctions); "esse"
# and "cappa" are words too, but rare in speech and never in these prompts.
LETTER_NAMES = {
    "effe": "f",
    "acca": "h",
    "kappa": "k",
    "cappa": "k",
    "elle": "l",
    "emme": "m",
    "enne": "n",
    "cu": "q",
    "erre": "r",
    "esse": "s",
    "vu": "v",
    "ics": "x",
    "ipsilon": "y",
    "ipsilonne": "y",
    "zeta": "z",
    "zed": "z",
}


def normalize(text: str) -> list[str]:
    text = text.lower().replace("’", "'")
    text = re.sub(r"\b(?:" + "|".join(SPELLING) + r")\b", lambda m: SPELLING[m.group()], text)
    text = re.sub(r"\b(?:" + "|".join(VARIANTS) + r")\b", lambda m: VARIANTS[m.group()], text)
    # A "?" standing alone between words is the file's lost "è" ("Quella opzione ?
    # invalida"): Italian never puts a space before a question mark.
    text = re.sub(r"(?<=\s)\?(?=\s)", "è", text)
    # "300.000" and "300 mila" are how Whisper writes "trecentomila".
    text = re.sub(r"\b\d{1,3}(?:\.\d{3})+\b", lambda m: m.group().replace(".", ""), text)
    text = re.sub(r"\b(\d+)\s*mila\b", lambda m: str(int(m.group(1)) * 1000), text)
    # A number read digit by digit ("1234" said "uno, due, tre, quattro") is written
    # "1, 2, 3, 4" or "5.0.0" by Whisper: three or more single digits in a row are one
    # digit string, as the transcript writes it (two could be a list: "premi 1, 2 o 3").
    text = re.sub(
        r"\b\d(?:(?:[.,]\s?|\s)\d){2,}\b(?![.,]?\d)", lambda m: re.sub(r"\D", "", m.group()), text
    )
    # "14 esimo" / "14esimo" is Whisper's way of writing "quattordicesimo".
    text = re.sub(r"\b(\d+)\s*esim([oaie])\b", lambda m: _ordinal(int(m[1]), m[2]), text)
    text = re.sub(r"\d+", lambda m: f" {number_to_italian(int(m.group()))} ", text)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    # Keep "?" only inside/at the end of a word (the transcript's lost accented letter).
    text = re.sub(r"(?<=[a-z])\?", "\x00", text)
    text = re.sub(r"[^a-z0-9\x00]+", " ", text)
    words = [LETTER_NAMES.get(w.rstrip("\x00"), w).replace("\x00", "?") for w in text.split()]
    # An acronym spelled out ("N B S", "i a x") is one token however it is written:
    # three or more single letters in a row are joined (Italian has no such phrase).
    out: list[str] = []
    run: list[str] = []
    for w in [*words, ""]:
        if len(w) == 1 and w.isalpha():
            run.append(w)
            continue
        out.extend(["".join(run)] if len(run) >= 3 else run)
        run = []
        if w:
            out.append(w)
    return out


def _ordinal(n: int, ending: str) -> str:
    """Italian ordinal from 11 up: "quattordici" -> "quattordicesimo"."""
    word = number_to_italian(n)
    stem = word if word.endswith("tre") else word[:-1]  # ventitreesimo, quarantesimo
    return f" {stem}esim{ending} "


def _match(ref: str, hyp: str) -> bool:
    # In Whisper's text a "?" is always a question mark ("Nessun?"), never a lost accent.
    hyp = hyp.replace("?", "")
    if "?" not in ref:
        return ref == hyp
    # "sar?" is "sarà" with its accent lost, but "posta?" is a question: the "?" stands
    # for one vowel or for nothing.
    return re.fullmatch(re.escape(ref).replace(r"\?", "[aeiou]?"), hyp) is not None


def word_errors(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance over words (substitutions + deletions + insertions)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (0 if _match(r, h) else 1))
        prev = cur
    return prev[-1]


@dataclass(frozen=True)
class Config:
    name: str
    beam: int
    fast: bool
    vocab: bool
    min_window_s: float | None = None  # fast path: smallest encoder window
    carrier: bool = True  # short answers after the carrier phrase (agent/stt/carrier.py)


# Prompts whose recording demonstrably differs from its line in core-sounds-it.txt
# (checked by ear-independent evidence: every configuration hears the same other
# wording, consistently, with high confidence). Reported separately, never hidden.
REFERENCE_MISMATCH = {
    "demo-instruct": "the recording lacks the first sentence; it says 'IAX', which the "
    "transcript dropped",
    "conf-adminmenu-18": "the recording is the -162 menu text ('prego premere 1 per "
    "disattivare o riattivare la propria voce...')",
    "priv-callee-options": "recorded in the informal register ('premere', 'desideri', 'ti "
    "raggiunga'); the transcript is formal ('prema', 'desidera', 'la raggiunga')",
    "screen-callee-options": "recorded informal ('premere', 'desideri', 'connetterti'); "
    "the transcript is formal ('prema', 'desidera', 'connettersi')",
}


CONFIGS = {
    c.name: c
    for c in (
        Config("beam1-fast", 1, True, False),
        Config("beam1-standard", 1, False, False),
        Config("beam5-fast", 5, True, False),
        Config("beam5-fast-nocarrier", 5, True, False, carrier=False),
        Config("beam5-fast-w10", 5, True, False, 10.0),
        Config("beam1-fast-w10", 1, True, False, 10.0),
        Config("beam5-fast-w10+vocab", 5, True, True, 10.0),
        Config("beam5-fast-w20", 5, True, False, 20.0),
        Config("beam5-standard", 5, False, False),
        Config("beam5-fast+vocab", 5, True, True),
        Config("beam5-standard+vocab", 5, False, True),
    )
}
DEFAULT_CONFIGS = "beam1-fast,beam5-fast,beam5-fast-w10,beam5-fast+vocab,beam5-standard"


def run_config(stt: WhisperSTT, cfg: Config, clips: list[tuple[str, bytes, str]]) -> dict[str, Any]:
    errors = ref_words = 0
    clean_errors = clean_words = 0
    # Isolated words (digits, letters, acronyms: 3 words or fewer) are where Whisper
    # base, with no context, errs most; callers speak in sentences. Reported apart.
    short_errors = short_words = 0
    # The lexicon's thresholds were chosen on the even-numbered prompts (0, 2, ...):
    # the odd-numbered half is the held-out measurement.
    odd_errors = odd_words = 0
    audio_s = compute_s = 0.0
    per_file: list[dict[str, Any]] = []
    latencies: list[float] = []
    fallbacks = 0
    for name, pcm, ref_text in clips:
        prompt = DOMAIN_VOCABULARY if cfg.vocab else ""
        t = stt.transcribe_sync(
            pcm, prompt=prompt, fast=cfg.fast, beam_size=cfg.beam, carrier=cfg.carrier
        )
        ref = normalize(ref_text)
        hyp = normalize(t.text)
        e = word_errors(ref, hyp)
        errors += e
        ref_words += len(ref)
        if name not in REFERENCE_MISMATCH:
            clean_errors += e
            clean_words += len(ref)
        if len(ref) <= 3:
            short_errors += e
            short_words += len(ref)
        if len(per_file) % 2:
            odd_errors += e
            odd_words += len(ref)
        audio_s += t.audio_s
        compute_s += t.compute_ms / 1000
        latencies.append(t.compute_ms)
        fallbacks += cfg.fast and t.path == "standard"
        per_file.append(
            {"name": name, "errors": e, "words": len(ref), "hyp": t.text, "ref": ref_text}
        )
    worst = sorted(per_file, key=lambda r: r["errors"], reverse=True)[:10]
    return {
        "config": cfg.name,
        "beam": cfg.beam,
        "fast_path": cfg.fast,
        "vocabulary_prompt": cfg.vocab,
        "files": len(clips),
        "ref_words": ref_words,
        "word_errors": errors,
        "wer": errors / max(1, ref_words),
        "wer_without_mismatched_references": clean_errors / max(1, clean_words),
        "wer_isolated_words": short_errors / max(1, short_words),
        "wer_held_out_odd_half": odd_errors / max(1, odd_words),
        "wer_sentences": (errors - short_errors) / max(1, ref_words - short_words),
        "mismatched_references": sorted(REFERENCE_MISMATCH),
        "audio_s": round(audio_s, 1),
        "compute_s": round(compute_s, 1),
        "rtf": compute_s / max(1e-9, audio_s),
        "median_ms_per_file": statistics.median(latencies) if latencies else None,
        "fast_fallbacks_to_standard": int(fallbacks),
        "worst": worst,
        "per_file": per_file,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=0, help="only the first N prompts")
    ap.add_argument("--configs", default=DEFAULT_CONFIGS)
    ap.add_argument("--model-dir", type=Path, default=STTSettings().model_dir)
    ap.add_argument("--out", type=Path, default=Path("bench-results/asr.json"))
    args = ap.parse_args(argv)
    configs = [CONFIGS[c] for c in args.configs.split(",") if c]

    try:
        prompts = load_prompts()
    except FileNotFoundError as exc:
        print(f"asr benchmark skipped: {exc}", file=sys.stderr)
        return 1
    if args.limit:
        prompts = prompts[: args.limit]
    clips = [(p.name, read_wav(p.path)[0], p.text) for p in prompts]

    base = STTSettings(model_dir=args.model_dir)
    stt = WhisperSTT(base)
    t0 = time.perf_counter()
    stt.load()
    load_s = time.perf_counter() - t0
    stt.transcribe_sync(clips[0][1])  # warm-up (first call allocates)
    load_avg = os.getloadavg()[0]

    def save(results: list[dict[str, Any]]) -> None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "benchmark": "asr",
            "machine": machine_info(),
            "load_average_at_start": load_avg,
            "model_dir": str(args.model_dir),
            "model_load_s": load_s,
            "results": results,
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        args.out.write_text(json.dumps(doc, indent=2, ensure_ascii=False))

    results: list[dict[str, Any]] = []
    for cfg in configs:
        print(f"  running {cfg.name} on {len(clips)} prompts ...", flush=True)
        engine = stt
        if cfg.min_window_s is not None:
            engine = WhisperSTT(dataclasses.replace(base, min_window_s=cfg.min_window_s))
        results.append(run_config(engine, cfg, clips))
        save(results)  # partial results survive an interrupted run
    stt.close()

    audio_s = results[0]["audio_s"] if results else 0
    print(
        f"\nASR benchmark: Whisper {stt.settings.model_name} int8, {len(clips)} Italian "
        f"prompts ({audio_s:.0f} s of 8 kHz telephone speech)"
    )
    print(f"machine: {machine_line()}; load average {load_avg:.1f}; model load {load_s:.2f} s")
    header = (
        f"{'config':<20}{'WER':>7}{'WER*':>7}{'odd':>7}{'sent.':>7}{'isol.':>7}{'RTF':>7}"
        f"{'median ms':>10}{'words':>7}{'fallb.':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r['config']:<20}{r['wer'] * 100:>6.1f}%"
            f"{r['wer_without_mismatched_references'] * 100:>6.1f}%"
            f"{r['wer_held_out_odd_half'] * 100:>6.1f}%"
            f"{r['wer_sentences'] * 100:>6.1f}%{r['wer_isolated_words'] * 100:>6.1f}%"
            f"{r['rtf']:>7.3f}"
            f"{r['median_ms_per_file']:>10.0f}{r['ref_words']:>7}"
            f"{r['fast_fallbacks_to_standard']:>7}"
        )
    print(f"WER* = without the {len(REFERENCE_MISMATCH)} prompts whose recording differs from")
    print("its transcript (REFERENCE_MISMATCH in bench/asr.py, listed in the JSON).")
    print("sent. = prompts of 4 words or more; isol. = isolated words (digits, letters,")
    print("acronyms: 3 words or fewer), which Whisper hears with no context. odd = the")
    print("odd-numbered prompts only, held out when the lexicon's thresholds were chosen.")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
