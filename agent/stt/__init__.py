"""Speech-to-text: local Whisper (faster-whisper / CTranslate2), VAD endpointing."""
