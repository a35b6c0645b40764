"""The conversation: speech-to-text, dialogue and extraction, LLM and TTS providers."""
