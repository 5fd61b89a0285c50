"""Settings: takedown.toml overlaid by TAKEDOWN_* variables (every key is documented: test_docs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from takedown.config import load_settings


def test_toml_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "takedown.toml"
    config.write_text('port = 9001\nhome = "/srv/takedown"\nlog_level = "DEBUG"\n')
    monkeypatch.setenv("TAKEDOWN_CONFIG", str(config))
    monkeypatch.setenv("TAKEDOWN_LOG_LEVEL", "WARNING")
    settings = load_settings()
    assert settings.port == 9001
    assert settings.log_level == "WARNING"  # the environment wins over the file
    assert settings.db_url == "sqlite:////srv/takedown/takedown.db"
    assert settings.base_url == "http://127.0.0.1:9001"


def test_unknown_key_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "takedown.toml"
    config.write_text("prot = 9001\n")
    monkeypatch.setenv("TAKEDOWN_CONFIG", str(config))
    with pytest.raises(ValueError, match="prot"):
        load_settings()
