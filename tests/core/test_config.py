from dataclasses import dataclass
from pathlib import Path

import pytest

from centralino.config import Config, ConfigError, load_config, secret


@dataclass(frozen=True)
class Sample:
    host: str = "127.0.0.1"
    port: int = 8088
    enabled: bool = True
    password: str = secret()


def test_layers_defaults_file_env(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[sample]\nport = 9000\npassword = "from-file"\n')
    cfg = load_config(f, environ={"CENTRALINO_SAMPLE__PORT": "9100"})
    s = cfg.section("sample", Sample)
    assert (s.host, s.port, s.password) == ("127.0.0.1", 9100, "from-file")


def test_missing_secret_names_the_variable() -> None:
    cfg = Config({"sample": {"port": 1}}, environ={})
    with pytest.raises(ConfigError, match="CENTRALINO_SAMPLE__PASSWORD"):
        cfg.require("sample", Sample)


def test_unknown_key_and_bad_type_are_errors() -> None:
    with pytest.raises(ConfigError, match="unknown setting"):
        Config({"sample": {"prot": 1}}, environ={}).section("sample", Sample)
    with pytest.raises(ConfigError, match="expected an integer"):
        Config({"sample": {"port": "x"}}, environ={}).section("sample", Sample)


def test_invalid_toml_is_a_clear_error(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text("[sample\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(f, environ={})


def test_database_url_env_wins(tmp_path: Path) -> None:
    cfg = Config(
        {"database": {"url": "sqlite:///x.db"}}, environ={"DATABASE_URL": "postgresql://h/db"}
    )
    assert cfg.database_url == "postgresql://h/db"
    cfg = Config({"paths": {"runtime_dir": str(tmp_path)}}, environ={})
    assert cfg.database_url == f"sqlite:///{tmp_path}/centralino.db"
