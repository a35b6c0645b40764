"""Everything the agent says that is not tenant content: short phone-friendly Italian."""

from __future__ import annotations

import re

from agent.dialogue.base import LeadDraft

ACKS = ("Perfetto.", "Bene.", "D'accordo.", "Grazie.", "Ottimo.")
NOT_UNDERSTOOD = "Mi scusi, non ho capito bene."
SILENCE_REPROMPT = "Mi sente?"
SILENCE_CLOSE = "Non la sento più. La faremo richiamare da un collega. Arrivederci."
TRANSFER = "Certo, la metto in contatto con un collega. Resti in linea, per favore."
TRANSFER_UNAVAILABLE = (
    "In questo momento i colleghi non sono disponibili. "
    "Mi lasci pure un messaggio: lo riferirò e la richiameranno al più presto."
)
TRANSFER_FAILED = "Mi dispiace, i colleghi sono tutti occupati. Mi lasci pure un messaggio."
MESSAGE_TAKEN = "Grazie, ho preso nota del messaggio."
OFF_TOPIC = "Su questo la farò richiamare da un collega, che saprà risponderle."
NOTED = "Prendo nota, un collega le darà tutti i dettagli."
CORRECT_WHAT = "Mi scusi. Cosa devo correggere?"
CONFIRM_AGAIN = "I dati sono corretti? Mi risponda sì o no."
CORRECTED = "Ho corretto."
ANYTHING_ELSE = "Posso esserle utile in altro?"
PHONE_QUESTION = "A quale numero possiamo richiamarla?"
ROOMS_OWNER = "Quanti locali ha l'appartamento?"
ROOMS_SEEKER = "Quanti locali le servono?"

REQUEST_LABELS = {
    "buy": "acquisto",
    "sell": "vendita",
    "rent": "affitto",
    "rent_out": "affitto del suo immobile",
    "valuation": "valutazione",
}
# Notes for the agency (lead notes), in Italian like everything agents read.
HUNG_UP_NOTE = "Il cliente ha chiuso la chiamata prima della fine."
MISSING_LABELS = {
    "name": "nome",
    "request_type": "tipo di richiesta",
    "property_type": "tipo di immobile",
    "zone": "zona",
    "budget": "budget",
    "urgency": "tempistica",
    "callback_time": "orario per richiamare",
    "phone": "numero di telefono",
}
URGENCY_LABELS = {"high": "con urgenza", "medium": "nei prossimi mesi", "low": "senza fretta"}

# Question texts adapted to a seller/landlord, used only when the tenant kept the default
# wording (an agency's own wording is never overridden).
SELLER_QUESTIONS = {
    "property_type": "Che tipo di immobile è?",
    "zone": "In quale zona si trova l'immobile?",
    "budget": "Ha in mente un prezzo indicativo?",
}
LANDLORD_QUESTIONS = {**SELLER_QUESTIONS, "budget": "Ha in mente un canone mensile indicativo?"}


def split_sentences(text: str) -> list[str]:
    """Split into sentences so the voice can start speaking the first one early."""
    parts = re.split(r"(?<=[.!?])\s+", text.strip())
    return [p.strip() for p in parts if p.strip()]


def money(value: int, *, monthly: bool = False) -> str:
    """400000 -> '400 mila euro', 1200000 -> '1 milione e 200 mila euro' (easy for any TTS)."""
    if monthly or value < 10000:
        out = f"{value} euro"
        return out + " al mese" if monthly else out
    millions, rest = divmod(value, 1_000_000)
    thousands = rest // 1000
    parts = []
    if millions:
        parts.append("un milione" if millions == 1 else f"{millions} milioni")
    if thousands:
        parts.append(f"{thousands} mila")
    return " e ".join(parts) + " euro"


def budget_phrase(lead: LeadDraft) -> str:
    monthly = lead.request_type in ("rent", "rent_out") and (lead.budget_max or 0) < 20000
    lo, hi = lead.budget_min, lead.budget_max
    if lo is not None and hi is not None and lo != hi:
        return f"budget tra {money(lo, monthly=monthly)} e {money(hi, monthly=monthly)}"
    if hi is not None:
        return f"budget fino a {money(hi, monthly=monthly)}"
    if lo is not None:
        return f"budget da {money(lo, monthly=monthly)}"
    return ""


def summary(lead: LeadDraft, *, caller_phone: str = "") -> str:
    """'Riepilogo: Mario Rossi, acquisto di un trilocale in zona Navigli, ... È corretto?'"""
    bits: list[str] = []
    if lead.name:
        bits.append(lead.name)
    what = REQUEST_LABELS.get(lead.request_type, "")
    if lead.property_type:
        feminine = lead.property_type.endswith("a") or lead.property_type.startswith("casa")
        article = "una" if feminine else "un"
        what = f"{what} di {article} {lead.property_type}" if what else lead.property_type
    if lead.zone:
        what = f"{what} in zona {lead.zone}" if what else f"zona {lead.zone}"
    if what:
        bits.append(what)
    budget = budget_phrase(lead)
    if budget:
        bits.append(budget)
    if lead.urgency:
        bits.append(timing_phrase(lead))
    if lead.callback_time:
        bits.append(f"da richiamare {lead.callback_time}")
    if lead.phone and lead.phone != caller_phone:
        bits.append(f"al numero {spoken_phone(lead.phone)}")
    if not bits:
        return "Non ho ancora raccolto dati. È corretto?"
    return "Riepilogo: " + ", ".join(bits) + ". È corretto?"


# The caller's timing words read back as they are when they make an adverbial
# ("entro l'estate", "tra sei mesi", "il prima possibile"); a sentence of their own
# ("non ho fretta", "è urgente") becomes the level's label.
_TIMING_STARTS = re.compile(
    r"^(?:entro|tra|fra|nei|nelle|negli|nel giro|per|da|dal|dall'|dopo|prima|verso|a|al|"
    r"all'|in|il|la|l'|fino|quest'|questa|questo|quanto|appena|con|senza)\b"
)


def timing_phrase(lead: LeadDraft) -> str:
    """How the summary says when: the caller's words, else the urgency label."""
    words = lead.timing.strip()
    if words and len(words) <= 40 and _TIMING_STARTS.match(words):
        return words
    return URGENCY_LABELS.get(lead.urgency, lead.urgency)


def spoken_phone(phone: str) -> str:
    """'+393331234567' -> '333 123 4567' (read in groups, without the country code)."""
    digits = phone.removeprefix("+39") if phone.startswith("+39") else phone
    return " ".join(digits[i : i + 3] for i in range(0, len(digits), 3))


def closing(lead: LeadDraft, agency: str) -> str:
    first = lead.name.split()[0] if lead.name else ""
    thanks = f"Grazie {first}." if first else "Grazie."
    when = lead.callback_time or "al più presto"
    return f"{thanks} Un nostro agente la richiamerà {when}. Arrivederci!"


def goodbye(agency: str) -> str:
    return f"Grazie per aver chiamato {agency}. Arrivederci!" if agency else "Arrivederci!"
