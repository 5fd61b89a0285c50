"""Settings: takedown.toml overlaid by TAKEDOWN_* variables, and every key documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from takedown.config import Settings, load_settings

README = Path(__file__).resolve().parents[1] / "README.md"


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


def test_every_key_is_in_the_readme() -> None:
    text = README.read_text()
    documented = set(re.findall(r"^\| `([a-z_]+)`(?:, `([a-z_]+)`)? \|", text, re.MULTILINE))
    names = {n for pair in documented for n in pair if n}
    missing = [name for name in Settings.model_fields if name not in names]
    assert missing == []
