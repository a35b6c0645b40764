"""Offline Italian text-to-speech through the Debian command-line engines.

Engines, best first (intelligibility measured as Whisper WER after 8 kHz µ-law):

* ``pico2wave`` (SVOX Pico, ``libttspico-utils`` in Debian non-free): WER 0.09, fast.
* ``festival`` with ``festvox-itapc16k`` (Debian main): WER 0.15.
* ``espeak-ng`` (Debian main): WER 0.42, robotic, the last resort.

Each engine runs as a subprocess in a worker thread so the event loop never blocks.
Long texts are split at sentence boundaries and synthesized chunk by chunk: the
engines are reliable on short inputs and duration then scales with the text.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from agent.audio import SAMPLE_RATE, WavError, read_wav, silence
from agent.tts.base import Speech, TTSError, Voice
from agent.tts.text import split_sentences

log = logging.getLogger(__name__)

# Pause inserted between synthesized chunks (the engines add little of their own).
CHUNK_GAP_MS = 120


@dataclass(frozen=True)
class Engine:
    name: str
    binary: str
    package: str  # Debian package that provides it (named in errors)
    build: Callable[[str, str, Path, Path], list[str]]  # (binary, lang, text_file, wav) -> argv
    encoding: str = "utf-8"  # how the text file is written for it


def _pico_lang(language: str) -> str:
    return {"it": "it-IT", "en": "en-GB", "de": "de-DE", "fr": "fr-FR", "es": "es-ES"}.get(
        language.split("-")[0].lower(), language
    )


def _pico_argv(binary: str, lang: str, text_file: Path, wav: Path) -> list[str]:
    # pico2wave takes the text as an argument; chunks are short so argv limits never bite.
    text = text_file.read_text(encoding="utf-8")
    return [binary, "-l", _pico_lang(lang), "-w", str(wav), "--", text]


def _festival_argv(binary: str, lang: str, text_file: Path, wav: Path) -> list[str]:
    # The only Italian festival voice in Debian is pc_diphone (festvox-itapc16k).
    return [binary, "-eval", "(voice_pc_diphone)", "-o", str(wav), str(text_file)]


def _espeak_argv(binary: str, lang: str, text_file: Path, wav: Path) -> list[str]:
    return [
        binary,
        "-v",
        lang.split("-")[0].lower(),
        "-s",
        "160",
        "-w",
        str(wav),
        "-f",
        str(text_file),
    ]


ENGINES: dict[str, Engine] = {
    "pico2wave": Engine("pico2wave", "pico2wave", "libttspico-utils", _pico_argv),
    # festival's Italian lexicon reads ISO-8859-1 (accented vowels).
    "festival": Engine(
        "festival", "text2wave", "festival festvox-itapc16k", _festival_argv, "latin-1"
    ),
    "espeak-ng": Engine("espeak-ng", "espeak-ng", "espeak-ng", _espeak_argv),
}
DEFAULT_ORDER = ("pico2wave", "festival", "espeak-ng")


def _festival_has_italian() -> bool:
    return any(
        Path(base, "voices/italian/pc_diphone").exists()
        for base in ("/usr/share/festival", "/usr/lib/festival")
    )


class OfflineTTS:
    """Italian TTS without network. Implements :class:`agent.tts.base.TTSProvider`.

    ``engines`` is the preference order (default pico2wave, festival, espeak-ng); the
    voice's ``extra["engine"]`` may force one. Missing engines are skipped; if none is
    installed the constructor raises :class:`TTSError` saying which packages to install.
    """

    name = "offline"

    def __init__(
        self,
        engines: Sequence[str] = DEFAULT_ORDER,
        *,
        max_chunk_chars: int = 250,
        timeout_s: float = 30.0,
    ) -> None:
        unknown = [e for e in engines if e not in ENGINES]
        if unknown:
            raise TTSError(f"unknown offline TTS engine(s) {unknown}; known: {list(ENGINES)}")
        self.max_chunk_chars = max_chunk_chars
        self.timeout_s = timeout_s
        self._paths: dict[str, str] = {}
        for name in engines:
            path = shutil.which(ENGINES[name].binary)
            if path and (name != "festival" or _festival_has_italian()):
                self._paths[name] = path
        if not self._paths:
            packages = " ".join(ENGINES[e].package for e in engines)
            raise TTSError(
                f"no offline Italian TTS engine installed (tried {', '.join(engines)}); "
                f"install the Debian packages: {packages} (run `make install`)"
            )
        self.engines = [e for e in engines if e in self._paths]

    async def synthesize(self, text: str, voice: Voice, tenant_id: int | None) -> Speech:
        chunks = split_sentences(text, self.max_chunk_chars)
        if not chunks:
            raise TTSError("nothing to say: empty text")
        forced = str(voice.extra.get("engine", "")) if voice.extra else ""
        if forced and forced not in self._paths:
            log.warning(
                "offline engine %r requested but not installed; using %s", forced, self.engines
            )
        order = [forced] if forced in self._paths else self.engines
        errors: list[str] = []
        for engine in order:
            started = time.perf_counter()
            try:
                pcm = await asyncio.to_thread(self._run_engine, engine, chunks, voice.language)
            except TTSError as exc:
                log.warning("offline TTS engine %s failed: %s", engine, exc)
                errors.append(f"{engine}: {exc}")
                continue
            log.debug(
                "offline TTS %s: %d chars -> %.2f s audio in %.2f s",
                engine,
                len(text),
                len(pcm) / (2 * SAMPLE_RATE),
                time.perf_counter() - started,
            )
            return Speech(pcm=pcm, provider=f"offline:{engine}", chars=len(text))
        raise TTSError("all offline TTS engines failed: " + "; ".join(errors))

    def _run_engine(self, engine: str, chunks: list[str], language: str) -> bytes:
        spec = ENGINES[engine]
        gap = silence(CHUNK_GAP_MS)
        parts: list[bytes] = []
        with tempfile.TemporaryDirectory(prefix="centralino-tts-") as tmp:
            for i, chunk in enumerate(chunks):
                text_file = Path(tmp, f"chunk{i}.txt")
                text_file.write_text(chunk + "\n", encoding=spec.encoding, errors="replace")
                wav = Path(tmp, f"chunk{i}.wav")
                argv = spec.build(self._paths[engine], language or "it", text_file, wav)
                try:
                    proc = subprocess.run(
                        argv, capture_output=True, timeout=self.timeout_s, check=False
                    )
                except subprocess.TimeoutExpired as exc:
                    raise TTSError(f"timed out after {self.timeout_s:.0f} s") from exc
                except OSError as exc:
                    raise TTSError(f"cannot run {argv[0]}: {exc}") from exc
                if proc.returncode != 0:
                    err = proc.stderr.decode("utf-8", "replace").strip()[-300:]
                    raise TTSError(f"exit status {proc.returncode}: {err}")
                try:
                    pcm, _ = read_wav(wav, SAMPLE_RATE)
                except WavError as exc:
                    raise TTSError(f"produced no usable audio: {exc}") from exc
                if not pcm:
                    raise TTSError(f"produced empty audio for {chunk[:40]!r}")
                if parts:
                    parts.append(gap)
                parts.append(pcm)
        return b"".join(parts)
