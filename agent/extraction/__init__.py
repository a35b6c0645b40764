"""Italian lead extraction without any LLM: numbers, budgets, zones, names, intents."""

from agent.extraction.extractor import EXTRACTION_SCHEMA, LEAD_FIELDS, Extraction, Extractor
from agent.extraction.intents import Intent

__all__ = ["EXTRACTION_SCHEMA", "LEAD_FIELDS", "Extraction", "Extractor", "Intent"]
