"""``centralino llm check|extract`` against the local Ollama-API server (see conftest.py)."""

from __future__ import annotations

import asyncio
import json
import sys

CLI = [sys.executable, "-c", "from centralino.cli import main; main()"]


async def run_cli(config_file, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        "--config",
        str(config_file),
        "llm",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


def write_config(tmp_path, host: str, model: str = "qwen2.5:1.5b-instruct"):
    path = tmp_path / "centralino.toml"
    path.write_text(
        f'[llm]\nproviders = "ollama"\nbudget_s = 2.0\n'
        f'[llm_ollama]\nhost = "{host}"\nmodel = "{model}"\n'
    )
    return path


async def test_check_ok_and_missing_model(ollama_server, tmp_path):
    rc, out, _ = await run_cli(write_config(tmp_path, ollama_server.url), "check")
    assert rc == 0 and "ollama: ok" in out
    rc, _, err = await run_cli(write_config(tmp_path, ollama_server.url, "llama3.2"), "check")
    assert rc == 1
    assert "ollama pull llama3.2" in err


async def test_extract_through_ollama_and_fallback(ollama_server, tmp_path, free_port):
    ollama_server.reply = json.dumps(
        {
            "name": "Mario Rossi",
            "phone": None,
            "request_type": "buy",
            "property_type": "trilocale",
            "zone": "Navigli",
            "budget_min": None,
            "budget_max": 400000,
            "urgency": None,
            "callback_time": None,
        }
    )
    rc, out, _ = await run_cli(write_config(tmp_path, ollama_server.url), "extract", "ciao")
    assert rc == 0
    result = json.loads(out)
    assert result["provider"] == "ollama" and result["data"]["zone"] == "Navigli"
    assert ollama_server.requests[-1]["messages"] == [{"role": "user", "content": "ciao"}]

    dead = write_config(tmp_path, f"http://127.0.0.1:{free_port}")
    rc, out, _ = await run_cli(dead, "extract", "Sono Mario Rossi, cerco un trilocale")
    result = json.loads(out)
    assert result["provider"] == "rules"
    assert result["data"]["name"] == "Mario Rossi"
    assert "unreachable" in result["fallbacks"][0]
