"""The configuration tree: sources, validation, documentation."""

from pathlib import Path

import pytest

from web.config import ConfigError, load_config, setting_paths

DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def test_defaults_give_an_embedded_sqlite_database_in_the_data_dir() -> None:
    config = load_config(env={})
    assert config.database_url.startswith("sqlite+aiosqlite:///")
    assert config.database_url.endswith("var/lecturehub.sqlite3")


def test_environment_wins_over_the_file(tmp_path: Path) -> None:
    file = tmp_path / "hub.toml"
    file.write_text('[server]\nport = 9000\nhost = "0.0.0.0"\n', encoding="utf-8")
    config = load_config(file, env={"LECTUREHUB_SERVER_PORT": "9100"})
    assert config.server.port == 9100
    assert config.server.host == "0.0.0.0"


def test_lists_come_from_comma_separated_environment_values() -> None:
    config = load_config(env={"LECTUREHUB_MEDIA_ICE_SERVERS": "stun:a:3478, turn:b:3478"})
    assert config.media.ice_servers == ["stun:a:3478", "turn:b:3478"]
    config = load_config(env={"LECTUREHUB_SERVER_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8"})
    assert config.server.trusted_proxies == ["127.0.0.1", "10.0.0.0/8"]
    assert load_config(env={}).server.trusted_proxies == []  # X-Forwarded-For ignored


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[server]\nport = 'x'\n", "server.port"),
        ("[server]\nprot = 1\n", "server.prot"),
        ("[server]\nsecret_key = 'short'\n", "secret_key"),
        ("[server\n", "cannot read"),
        (
            "[server]\ntrusted_proxies = ['10.0.0.0/8', 'proxy']\n",
            "server.trusted_proxies.*'proxy'",
        ),
    ],
)
def test_bad_settings_are_refused_with_the_setting_named(
    tmp_path: Path, text: str, message: str
) -> None:
    file = tmp_path / "hub.toml"
    file.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(file, env={})


def test_every_setting_is_documented() -> None:
    doc = DOC.read_text(encoding="utf-8")
    missing = [path for path, _help, _default in setting_paths() if f"`{path}`" not in doc]
    assert not missing, f"settings missing from docs/configuration.md: {missing}"
