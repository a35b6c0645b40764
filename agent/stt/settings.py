"""Settings of the speech-to-text area: ``[stt]`` in the config file."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

# scripts/install.d/20-speech.sh assembles the model under the checkout's var/models;
# resolve it from here so the controller finds it whatever its working directory.
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[2] / "var" / "models" / "whisper-base"

DEVICES = ("cpu", "cuda", "auto")
# CTranslate2's compute types (ctranslate2.get_supported_compute_types lists the ones a
# device really has; that needs the device, so only the names are checked here).
COMPUTE_TYPES = (
    "default",
    "auto",
    "int8",
    "int8_float32",
    "int8_float16",
    "int8_bfloat16",
    "int16",
    "float16",
    "bfloat16",
    "float32",
)


@dataclass(frozen=True)
class STTSettings:
    # A CTranslate2 Whisper folder (model.bin, config.json, tokenizer.json). The default
    # is assembled by scripts/install.d/20-speech.sh; any other CTranslate2 Whisper
    # (small, medium, large-v3 on CUDA) works for bigger servers.
    model_dir: Path = DEFAULT_MODEL_DIR
    model_name: str = "base"  # for logs and the per-turn provider field
    device: str = "cpu"  # cpu | cuda | auto
    compute_type: str = "int8"  # int8 on CPU; float16 / int8_float16 on CUDA
    cpu_threads: int = 0  # 0 = CTranslate2's default (all cores)
    # Parallel transcriptions; each CTranslate2 worker holds its own thread pool.
    workers: int = 1
    language: str = "it"
    # Beam 5 measured at nearly the cost of beam 1 on CPU (the encoder dominates) and
    # 1.5-2.5 points lower WER (docs/speech.md); set 1 for the leanest servers.
    beam_size: int = 5
    # Fast path: encode a window sized to the utterance instead of the padded 30 s.
    fast_path: bool = True
    window_margin_s: float = 3.0
    min_window_s: float = 10.0  # 6 s measured 1 point worse WER at beam 5
    # Whisper's no-speech probability above which (with a low log-prob) a text is dropped.
    no_speech_threshold: float = 0.6
    log_prob_threshold: float = -1.0
    # Below this confidence (exp of the mean token log-prob) a text is noise made into
    # words, often an echo of the vocabulary prompt ("che città, la città della città").
    min_confidence: float = 0.2
    # Utterances whose median spectral flatness is above this are line noise, not speech
    # (white noise ~0.56, Italian speech over G.711 ~0.05-0.25): never decoded.
    noise_flatness_max: float = 0.4
    # Respell Whisper's non-words with an Italian word-frequency list (agent/stt/lexicon.py):
    # -2 points WER on the Asterisk prompts (docs/speech.md).
    lexicon_correction: bool = True
    # Utterances up to this long are decoded after a short carrier phrase in the
    # offline voice ("Prego, mi dica.", agent/stt/carrier.py): Whisper then hears a lone
    # word as Italian. 261 -> 178 word errors on the 458 Asterisk prompts of 3 s or less
    # or 3 words or fewer (docs/speech.md); 0 disables.
    carrier_max_s: float = 3.0

    def __post_init__(self) -> None:
        # A bad ``[stt]`` value must stop the controller at start-up, naming the key
        # (config.section reports it as "[stt]: ..."), before the model loads and not
        # as a silently broken recogniser (beam 0, a worker pool of none, a threshold
        # that drops every transcript).
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if self.compute_type not in COMPUTE_TYPES:
            raise ValueError(
                f"compute_type must be one of {', '.join(COMPUTE_TYPES)}, got {self.compute_type!r}"
            )
        if not self.language.strip():
            raise ValueError('language must not be empty (e.g. "it")')
        for name in ("beam_size", "workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.cpu_threads < 0:
            raise ValueError(f"cpu_threads must be 0 (all cores) or more, got {self.cpu_threads}")
        if not (math.isfinite(self.carrier_max_s) and 0.0 <= self.carrier_max_s <= 20.0):
            raise ValueError(
                f"carrier_max_s must be between 0 (off) and 20 seconds, got {self.carrier_max_s}"
            )
        for name in ("window_margin_s", "min_window_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 <= value <= 20):
                # Whisper's window is 30 s: a larger margin leaves no room for speech.
                raise ValueError(f"{name} must be between 0 and 20 seconds, got {value}")
        # Probabilities and the confidence (exp of a mean log-prob) lie in 0..1; spectral
        # flatness too, and at 0 every utterance would count as line noise.
        for name in ("no_speech_threshold", "min_confidence"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if not 0.0 < self.noise_flatness_max <= 1.0:
            raise ValueError(
                f"noise_flatness_max must be more than 0 and at most 1,"
                f" got {self.noise_flatness_max}"
            )
        if not -math.inf < self.log_prob_threshold <= 0.0:
            raise ValueError(
                f"log_prob_threshold must be 0 or less (a mean log-probability),"
                f" got {self.log_prob_threshold}"
            )
