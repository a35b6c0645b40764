"""``centralino demo-data``, ``apikey`` and ``analytics`` commands on a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from centralino.apikeys.service import ApiKeyService
from centralino.calls.models import Call
from centralino.cli import cli
from centralino.db.session import Database
from centralino.leads.models import Lead
from centralino.sentiment.models import CallSentiment


def test_demo_data_keys_and_report(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    env = {"DATABASE_URL": url, "CENTRALINO_CONFIG": ""}
    runner = CliRunner()
    r = runner.invoke(cli, ["demo-data", "--calls", "300", "--days", "30"], env=env)
    assert r.exit_code == 0, r.output
    assert "demo: 300 calls" in r.output
    db = Database(url)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Call)) == 900  # three agencies
        leads = s.scalar(select(func.count()).select_from(Lead)) or 0
        assert 200 < leads < 450
        assert s.scalar(select(func.count()).where(Lead.score.is_(None))) == 0
        assert s.scalar(select(func.count()).select_from(CallSentiment)) > 700

    r = runner.invoke(
        cli, ["apikey", "create", "--tenant", "demo", "--name", "crm", "--scopes", "read"], env=env
    )
    assert r.exit_code == 0, r.output
    secret = r.stdout.strip().splitlines()[0]
    prefix = "_".join(secret.split("_")[:2])
    assert ApiKeyService(db).authenticate(secret) is not None
    r = runner.invoke(cli, ["apikey", "list", "--tenant", "demo"], env=env)
    assert secret not in r.output and prefix in r.output
    r = runner.invoke(cli, ["apikey", "revoke", prefix], env=env)
    assert r.exit_code == 0 and ApiKeyService(db).authenticate(secret) is None
    r = runner.invoke(cli, ["apikey", "create", "--tenant", "demo", "--name", "x",
                            "--scopes", "admin"], env=env)  # fmt: skip
    assert r.exit_code != 0 and "scope" in r.output

    r = runner.invoke(cli, ["analytics", "report", "--tenant", "demo"], env=env)
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["calls"] > 250 and report["leads"] > 0
    r = runner.invoke(
        cli,
        ["analytics", "report", "--tenant", "demo", "--from", "2026-05-01", "--to", "2026-04-01"],
        env=env,
    )
    assert r.exit_code != 0 and "before" in r.output
    db.dispose()
