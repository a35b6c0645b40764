"""Every scripted call of the lead benchmark (bench/data/leads/) must end with its exact lead.

The benchmark reports the percentage; this test keeps regressions out of main.
"""

from __future__ import annotations

import pytest

from bench.leads import DATA, load, play_call

DATASET = load(DATA)


@pytest.mark.parametrize("call", DATASET["calls"], ids=[c["id"] for c in DATASET["calls"]])
async def test_scripted_call(call):
    result = await play_call(DATASET["tenant"], call)
    assert result.errors == []
    assert result.perfect
