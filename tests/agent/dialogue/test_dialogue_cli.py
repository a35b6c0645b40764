from __future__ import annotations

import json
import subprocess
import sys


def test_terminal_chat_with_the_demo_tenant():
    script = "Sono Mario Rossi, cerco un trilocale ai Navigli sui 400 mila\n\n#0\n"
    out = subprocess.run(
        [sys.executable, "-m", "agent.dialogue"],
        input=script,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    lines = out.splitlines()
    assert lines[0].startswith("agente: Buongiorno, ha chiamato Immobiliare Demo.")
    assert lines[2].startswith("agente: Mi sente?")
    assert lines[3].endswith("[transfer +390212345600]")
    result = json.loads(out[out.index("{") :])
    assert result["outcome"] == "transferred"
    assert result["lead"]["zone"] == "Navigli"
