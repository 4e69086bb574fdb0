"""Building the app: keys from the config or the environment, and a clear refusal without any."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from agora.config import ConfigError, load_config
from api.app import create_app
from api.auth import KeyRing, hash_key, load_keys


def config_file(tmp_path: Path, body: str = "") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(body)
    return path


def test_no_key_no_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGORA_API_KEYS", raising=False)
    with pytest.raises(ConfigError, match=r"api\.keys_sha256: no API key configured: set \$AGORA_API_KEYS"):
        create_app(load_config(config_file(tmp_path), environ={}))


def test_keys_from_config_hashes_and_from_the_environment(tmp_path: Path) -> None:
    config = load_config(config_file(tmp_path, f"api:\n  keys_sha256: [{hash_key('from-file').upper()}]\n"), environ={})
    ring = load_keys(config, {"AGORA_API_KEYS": " one, two ,,"})
    assert ring.accepts("from-file") and ring.accepts("one") and ring.accepts("two")
    assert not ring.accepts("") and not ring.accepts(None) and not ring.accepts("three")
    assert not ring.accepts(hash_key("one"))  # a stolen hash is not a key
    assert len(ring.hashes) == 3 and "one" not in ring.hashes
    assert not KeyRing(()).accepts("anything")


def test_a_plain_key_in_the_hash_list_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"api\.keys_sha256: 'my-plain-key'\.\.\. is not a SHA-256 hex digest"):
        load_config(config_file(tmp_path, "api:\n  keys_sha256: [my-plain-key]\n"), environ={})


def test_serve_help_teaches() -> None:
    from agora.cli import app

    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    assert "AGORA_API_KEYS" in result.output and "/dashboard/" in result.output and "--port" in result.output
