"""Local Whisper through faster-whisper / CTranslate2, with a short-window fast path.

Whisper's encoder always sees a 30 s window; for a 2 s answer most of the ~0.7 s
encoder time on CPU is spent on padding. CTranslate2's Whisper encoder accepts
shorter inputs, so the fast path computes the log-Mel features of the utterance,
pads them only to the utterance length plus a margin, and runs encode + generate
directly. Too short a window makes the decoder loop, hence the margin and a
minimum; a suspicious fast result (repetition, low confidence) is redone on the
standard 30 s path.

One :class:`WhisperSTT` per process: the app creates it once and passes it to every
call's pipeline. Inference runs in a small thread pool, never on the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from agent.stt.base import STTModelError, Transcript
from agent.stt.carrier import Carrier
from agent.stt.hallucinations import KNOWN_EXACT, is_hallucination
from agent.stt.hallucinations import normalize as normalize_for_hallucinations
from agent.stt.lexicon import ItalianLexicon, shared_lexicon
from agent.stt.settings import STTSettings

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
FRAMES_PER_SECOND = 100  # Whisper's log-Mel hop is 10 ms
NON_WORD_PENALTY = 0.3
REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")
FIX_HINT = (
    "run `make install` (it runs scripts/install.d/20-speech.sh) or set stt.model_dir / "
    "CENTRALINO_STT__MODEL_DIR to a CTranslate2 Whisper folder"
)


def check_model_dir(model_dir: Path) -> None:
    """Raise :class:`STTModelError` naming the missing/empty file and the fix."""
    if not model_dir.is_dir():
        raise STTModelError(f"Whisper model folder {model_dir} does not exist: {FIX_HINT}")
    for name in REQUIRED_FILES:
        path = model_dir / name
        if not path.is_file():
            raise STTModelError(f"Whisper model file {path} is missing: {FIX_HINT}")
        if path.stat().st_size == 0:
            raise STTModelError(f"Whisper model file {path} is empty (corrupt): {FIX_HINT}")


def spectral_flatness(audio: np.ndarray, rate: int = SAMPLE_RATE) -> float:
    """Median spectral flatness (0 = tonal/speech, ~0.56 = white noise) of the voiced frames.

    Measured in the telephone band (200-3400 Hz) because callers arrive as 8 kHz G.711.
    """
    n = 512
    if len(audio) < n:
        return 0.0
    frames = np.lib.stride_tricks.sliding_window_view(audio, n)[:: n // 2]
    energy = np.sqrt(np.mean(frames**2, axis=1))
    loud = frames[energy > max(1e-4, float(np.max(energy)) * 0.1)]
    if len(loud) == 0:
        return 0.0
    spectrum = np.abs(np.fft.rfft(loud * np.hanning(n), axis=1)) ** 2
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    band = spectrum[:, (freqs >= 200) & (freqs <= 3400)] + 1e-12
    flat = np.exp(np.mean(np.log(band), axis=1)) / np.mean(band, axis=1)
    return float(np.median(flat))


def _compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / max(1, len(zlib.compress(data)))


def _repeated_phrase(text: str, min_words: int = 3) -> bool:
    """A phrase of ``min_words``+ words said twice in a row: the short-window decoder's
    typical loop ("tutti i circuiti sono ora occupati tutti i circuiti ...")."""
    words = [w.strip(".,;:!?").lower() for w in text.split()]
    for n in range(min_words, len(words) // 2 + 1):
        for i in range(len(words) - 2 * n + 1):
            if words[i : i + n] == words[i + n : i + 2 * n]:
                return True
    return False


def split_at_pauses(
    audio: np.ndarray, margin_s: float, rate: int = SAMPLE_RATE
) -> list[np.ndarray]:
    """``audio`` in pieces that each fit the fast window (30 s less the margin), cut at
    the quietest 100 ms in the second half of each window so no word is cut in two."""
    longest = int((30.0 - margin_s) * rate)
    hop = rate // 50  # 20 ms
    width = rate // 10  # 100 ms
    # The last piece keeps at least this much (or half a window): a recording just
    # over one window ending in the endpointer's silence must not be cut into speech
    # plus a lone tail of silence, which Whisper decodes as a sentence of its own.
    min_tail = min(3 * rate, longest // 2)
    pieces: list[np.ndarray] = []
    start = 0
    while len(audio) - start > longest:
        lo = start + longest // 2
        hi = max(lo, min(start + longest - width, len(audio) - min_tail - width))
        frames = np.lib.stride_tricks.sliding_window_view(audio[lo : hi + width], width)[::hop]
        quietest = int(np.argmin(np.mean(frames**2, axis=1)))
        cut = lo + quietest * hop + width // 2
        pieces.append(audio[start:cut])
        start = cut
    pieces.append(audio[start:])
    return pieces


class WhisperSTT:
    """faster-whisper on a local CTranslate2 model. Implements ``STTProvider``."""

    def __init__(self, settings: STTSettings | None = None) -> None:
        self.settings = settings or STTSettings()
        self.name = f"whisper:{self.settings.model_name}"
        self._model: Any = None
        self._tokenizer: Any = None
        self._carrier: Carrier | None = None
        self._carrier_ids: list[int] = []
        self.lexicon: ItalianLexicon | None = (
            shared_lexicon(self.settings.language) if self.settings.lexicon_correction else None
        )
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, self.settings.workers), thread_name_prefix="whisper"
        )
        self.load_s: float | None = None

    # -- lifecycle ---------------------------------------------------------------
    def load(self) -> None:
        """Load the model (blocking, ~0.6 s for base int8). Raises STTModelError."""
        if self._model is not None:
            return
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer

        s = self.settings
        model_dir = Path(s.model_dir).expanduser()
        check_model_dir(model_dir)
        started = time.perf_counter()
        try:
            model = WhisperModel(
                str(model_dir),
                device=s.device,
                compute_type=s.compute_type,
                cpu_threads=s.cpu_threads,
                num_workers=max(1, s.workers),
                local_files_only=True,
            )
        except Exception as exc:  # CTranslate2 raises RuntimeError/ValueError on bad files
            raise STTModelError(
                f"cannot load Whisper model file {model_dir / 'model.bin'} "
                f"(corrupt or incompatible: {exc}): {FIX_HINT}"
            ) from exc
        self._tokenizer = Tokenizer(
            model.hf_tokenizer,
            model.model.is_multilingual,
            task="transcribe",
            language=s.language if model.model.is_multilingual else "en",
        )
        if self.lexicon is not None:
            try:
                self.lexicon.load()
            except ImportError as exc:
                raise STTModelError(
                    f"the Italian word list for transcript correction is missing ({exc}):"
                    " run `make install` (pip installs wordfreq) or set"
                    " [stt] lexicon_correction = false"
                ) from exc
        if s.carrier_max_s > 0:
            self._carrier = Carrier.load(s.language)
            if self._carrier is not None:
                self._carrier_ids = self._tokenizer.encode(" " + self._carrier.text)
        self._model = model
        self.load_s = time.perf_counter() - started
        log.info("loaded Whisper %s from %s in %.2f s", s.model_name, model_dir, self.load_s)

    async def start(self) -> None:
        """Load in a worker thread (call at process start, not at the first call)."""
        await asyncio.get_running_loop().run_in_executor(self._pool, self.load)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- transcription -----------------------------------------------------------
    async def transcribe(self, pcm: bytes, prompt: str = "", *, busy: bool = False) -> Transcript:
        loop = asyncio.get_running_loop()
        job = functools.partial(self.transcribe_sync, pcm, prompt, carrier=not busy)
        return await loop.run_in_executor(self._pool, job)

    def transcribe_sync(
        self,
        pcm: bytes,
        prompt: str = "",
        fast: bool | None = None,
        beam_size: int | None = None,
        carrier: bool = True,
    ) -> Transcript:
        """Blocking transcription of slin16 ``pcm`` (use :meth:`transcribe` from async code)."""
        self.load()
        audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        audio_s = len(audio) / SAMPLE_RATE
        beam = beam_size or self.settings.beam_size
        use_fast = self.settings.fast_path if fast is None else fast
        started = time.perf_counter()
        if audio_s < 0.1:
            return Transcript("", None, self.name, audio_s, 0.0, dropped="too short")
        flatness = spectral_flatness(audio)
        if flatness > self.settings.noise_flatness_max:
            # Broadband line noise passes the VAD, and with a vocabulary prompt Whisper
            # turns it into echoes of the prompt ("Brera, Isola, Lillocale"): never decode it.
            log.info("dropped %.2f s of noise (spectral flatness %.2f)", audio_s, flatness)
            return Transcript("", None, self.name, audio_s, 0.0, dropped=f"noise ({flatness:.2f})")
        result: dict[str, Any] | None = None
        path = "standard"
        if use_fast and self.fits_fast_window(audio_s):
            # A short answer is decoded after the carrier first; a suspicious result
            # (a loop, a low log-prob) is redone without it, then on the 30 s window.
            carriers = [True, False] if carrier and self.uses_carrier(audio_s) else [False]
            for with_carrier in carriers:
                result = self._decode_fast(audio, prompt, beam, with_carrier)
                path = "fast+carrier" if with_carrier else "fast"
                if not self._suspicious(result):
                    break
                log.debug("%s path result %r suspicious", path, result["text"])
                result = None
            if result is not None and path == "fast+carrier" and self._needs_no_speech(result):
                # After the carrier, Whisper's no-speech probability is about the
                # carrier's speech. The rules that need it (a low log-prob, or a
                # "grazie"/"ok" that noise often becomes) get it from the caller's audio
                # alone: one more decode, only for those answers.
                alone = self._decode_fast(audio, prompt, beam, False)
                result = {**result, "no_speech_prob": alone["no_speech_prob"]}
                if result["empty_top"] and (alone["no_speech_prob"] or 0.0) > (
                    self.settings.no_speech_threshold
                ):
                    result = {**result, "text": ""}  # silence: the lower beam was forced
        elif use_fast:
            result = self._decode_chunked(audio, prompt, beam)
            path = "fast" if result is not None else "standard"
        if result is None:
            path = "standard"
            result = self._decode_standard(audio, prompt, beam)
        compute_ms = (time.perf_counter() - started) * 1000
        text = result["text"].strip()
        no_speech = result["no_speech_prob"]
        avg_logprob = result["avg_logprob"]
        confidence = math.exp(avg_logprob) if avg_logprob is not None else None
        dropped = self._drop_reason(result)
        if dropped:
            log.info("dropped transcript %r: %s", text, dropped)
            text = ""
        elif text and self.lexicon is not None:
            corrected = self.lexicon.correct(text, vocabulary=[prompt])
            if corrected != text:
                log.debug("lexicon: %r -> %r", text, corrected)
                text = corrected
        return Transcript(
            text=text,
            confidence=confidence,
            provider=self.name,
            audio_s=audio_s,
            compute_ms=compute_ms,
            no_speech_prob=no_speech,
            path=path,
            dropped=dropped,
        )

    def fast_path_applies(self, audio_s: float) -> bool:
        """Whether ``audio_s`` seconds would be transcribed on the fast path by default."""
        return self.settings.fast_path and self.fits_fast_window(audio_s)

    def uses_carrier(self, audio_s: float) -> bool:
        """Whether ``audio_s`` seconds are decoded after the carrier phrase."""
        if self._carrier is None or audio_s > self.settings.carrier_max_s:
            return False
        # The carrier and the answer must fit one window together, or the window would
        # cut the end of the caller's words.
        return self.fits_fast_window(audio_s + len(self._carrier.audio) / SAMPLE_RATE)

    def _needs_no_speech(self, r: dict[str, Any]) -> bool:
        if r.get("empty_top"):
            return True
        text = normalize_for_hallucinations(r["text"])
        low = r["avg_logprob"] is not None and r["avg_logprob"] < self.settings.log_prob_threshold
        return bool(text) and (low or text in KNOWN_EXACT)

    def _drop_reason(self, r: dict[str, Any]) -> str:
        """Why a decoded result is not speech ("" to keep it)."""
        text = r["text"].strip()
        no_speech = r["no_speech_prob"]
        avg_logprob = r["avg_logprob"]
        confidence = math.exp(avg_logprob) if avg_logprob is not None else None
        if (
            no_speech is not None
            and no_speech > self.settings.no_speech_threshold
            and (avg_logprob is None or avg_logprob < self.settings.log_prob_threshold)
        ):
            return f"no speech (p={no_speech:.2f})"
        if text and confidence is not None and confidence < self.settings.min_confidence:
            return f"low confidence ({confidence:.2f})"
        return is_hallucination(text, suspect_noise=no_speech is not None and no_speech > 0.3)

    def fits_fast_window(self, audio_s: float) -> bool:
        return audio_s + self.settings.window_margin_s < 30.0

    def _suspicious(self, r: dict[str, Any]) -> bool:
        text = r["text"].strip()
        if not text:
            return False  # nothing decoded on a short window: trust it (silence)
        return (
            _compression_ratio(text) > 2.4
            or (r["avg_logprob"] or 0) < -1.2
            or _repeated_phrase(text)
        )

    def _prompt_tokens(self, prompt: str) -> list[int]:
        tok = self._tokenizer
        tokens: list[int] = []
        if prompt.strip():
            # Same layout as faster-whisper's initial_prompt: <|startofprev|> words ...
            words = tok.encode(" " + prompt.strip())[-(self._model.max_length // 2 - 1) :]
            tokens = [tok.sot_prev, *words]
        return [*tokens, *tok.sot_sequence, tok.no_timestamps]

    def _decode_fast(
        self, audio: np.ndarray, prompt: str, beam: int, with_carrier: bool = False
    ) -> dict[str, Any]:
        import ctranslate2
        from faster_whisper.transcribe import get_suppressed_tokens

        model = self._model
        s = self.settings
        carrier_ids: list[int] = []
        if with_carrier and self._carrier is not None:
            audio = np.concatenate([self._carrier.audio, audio])
            carrier_ids = self._carrier_ids
        features = model.feature_extractor(audio)  # (n_mels, frames)
        window_s = min(30.0, max(s.min_window_s, len(audio) / SAMPLE_RATE + s.window_margin_s))
        frames = math.ceil(window_s) * FRAMES_PER_SECOND
        if features.shape[-1] < frames:
            features = np.pad(features, ((0, 0), (0, frames - features.shape[-1])))
        else:
            features = features[:, :frames]
        storage = ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None]))
        encoded = model.model.encode(storage, to_cpu=False)
        prompt_ids = self._prompt_tokens(prompt) + carrier_ids
        res = model.model.generate(
            encoded,
            [prompt_ids],
            beam_size=beam,
            max_length=min(model.max_length, len(prompt_ids) + 224),
            return_scores=True,
            return_no_speech_prob=True,
            # After the carrier, an immediate end of text is how silence is said; with
            # blanks suppressed the decoder must say something, and says the carrier again.
            suppress_blank=not carrier_ids,
            suppress_tokens=list(get_suppressed_tokens(self._tokenizer, [-1]) or []),
            # The beam's other hypotheses cost nothing extra; the lexicon picks among them.
            num_hypotheses=beam if self.lexicon is not None else 1,
        )[0]
        # CTranslate2 returns the forced carrier tokens at the head of every hypothesis.
        answers = [
            ids[len(carrier_ids) :] if ids[: len(carrier_ids)] == carrier_ids else ids
            for ids in res.sequences_ids
        ]
        texts = [self._tokenizer.decode(ids) for ids in answers]
        if carrier_ids:
            texts = [self._strip_carrier_echo(t) for t in texts]
        best = 0
        if self.lexicon is not None and len(texts) > 1:
            # Whisper's length-normalised log-prob, minus a penalty per non-word: among
            # near-equal hypotheses the one spelled in real Italian wins ("acustico"
            # over "acoustico"). 0.3 nats per non-word, chosen on half of the Asterisk
            # prompts, -1 point WER on the other half (docs/speech.md).
            # Only among hypotheses about as long as the top one: a beam that stopped
            # early ("Premere 1 ... Lei.") has fewer non-words simply by saying less.
            lexicon = self.lexicon
            top_words = len(texts[0].split())
            # At least one word: an empty hypothesis never replaces a heard answer.
            min_words = max(1.0, min(top_words - 2, 0.8 * top_words))
            alike = [k for k in range(len(texts)) if len(texts[k].split()) >= min_words] or [0]
            best = max(
                alike,
                key=lambda k: (
                    res.scores[k] - NON_WORD_PENALTY * lexicon.non_words(texts[k], [prompt])
                ),
            )
        tokens = answers[best]
        # The score is the mean log-prob over all returned tokens, the forced carrier's
        # included; those match their own audio and cost ~0, so the sum is the answer's.
        total = res.scores[best] * len(res.sequences_ids[best])
        avg_logprob = total / (len(tokens) + 1) if tokens else None
        return {
            "text": texts[best],
            "avg_logprob": avg_logprob,
            # With the carrier, the no-speech probability is about the carrier's speech.
            "no_speech_prob": None if carrier_ids else res.no_speech_prob,
            # After the carrier the top beam is often the one that ended at once: the
            # score is averaged over the forced tokens too, which flatters a short
            # hypothesis. A word of a lower beam then wins, unless the caller's audio
            # alone says "no speech" (checked by the caller of this method).
            "empty_top": bool(carrier_ids) and not texts[0].strip() and bool(texts[best].strip()),
        }

    def _strip_carrier_echo(self, text: str) -> str:
        """ "" for a hypothesis that only repeats two or more words of the carrier ("Prego,
        mi dica.", "Mi dica."): on silence, the decoder's likeliest continuation of its
        context is the context."""
        assert self._carrier is not None
        said = [w.strip(".,;:!?").lower() for w in text.split()]
        carrier = [w.strip(".,;:!?").lower() for w in self._carrier.text.split()]
        runs = {
            tuple(carrier[i:j]) for i in range(len(carrier)) for j in range(i + 2, len(carrier) + 1)
        }
        return "" if tuple(said) in runs else text

    def _decode_chunked(self, audio: np.ndarray, prompt: str, beam: int) -> dict[str, Any] | None:
        """Audio longer than one window, as fast-path windows cut at quiet moments.

        faster-whisper's own 30 s segmentation cuts mid-word and decodes a 0.2 s tail as
        a sentence of its own ("Alla fine."), whose low log-prob then dropped a whole
        30.2 s recording. None when a piece looks wrong: the caller uses the 30 s path.
        """
        pieces = split_at_pauses(audio, self.settings.window_margin_s)
        texts: list[str] = []
        total = 0.0
        tokens = 0
        no_speech: list[float] = []
        for piece in pieces:
            r = self._decode_fast(piece, prompt, beam)
            if self._suspicious(r):
                return None
            reason = self._drop_reason(r)
            if reason:
                # A piece of trailing silence or noise decoded alone ("Grazie."): the
                # rest of the recording is kept.
                log.debug("dropped piece %r of a long recording: %s", r["text"], reason)
                continue
            if r["text"].strip():
                texts.append(r["text"].strip())
                n = len(r["text"].split()) + 1  # words as a stand-in for tokens
                total += (r["avg_logprob"] or 0.0) * n
                tokens += n
            if r["no_speech_prob"] is not None:
                no_speech.append(r["no_speech_prob"])
        return {
            "text": " ".join(texts),
            "avg_logprob": total / tokens if tokens else None,
            # Speech in any kept piece makes the whole recording speech.
            "no_speech_prob": min(no_speech) if no_speech else None,
        }

    def _decode_standard(self, audio: np.ndarray, prompt: str, beam: int) -> dict[str, Any]:
        segments, _info = self._model.transcribe(
            audio,
            language=self.settings.language,
            beam_size=beam,
            initial_prompt=prompt.strip() or None,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
        )
        segs = list(segments)
        if not segs:
            return {"text": "", "avg_logprob": None, "no_speech_prob": None}
        # Weighted by tokens: a short tail segment must not outweigh a long one.
        weights = [len(seg.tokens) + 1 for seg in segs]
        return {
            "text": " ".join(seg.text.strip() for seg in segs),
            "avg_logprob": float(np.average([seg.avg_logprob for seg in segs], weights=weights)),
            "no_speech_prob": float(max(seg.no_speech_prob for seg in segs)),
        }
