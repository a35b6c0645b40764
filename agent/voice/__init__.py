"""The voice pipeline: plugs a text dialogue into a phone call (pbx's Conversation)."""
