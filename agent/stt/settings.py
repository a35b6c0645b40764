"""Settings of the speech-to-text area: ``[stt]`` in the config file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# scripts/install.d/20-speech.sh assembles the model under the checkout's var/models;
# resolve it from here so the controller finds it whatever its working directory.
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[2] / "var" / "models" / "whisper-base"


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
