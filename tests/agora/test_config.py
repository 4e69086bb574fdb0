from pathlib import Path

import pytest

from agora.config import ConfigError, default_config_path, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_bundled_config_has_every_key_and_loads() -> None:
    config = load_config(default_config_path(), environ={})
    assert config.graph.uri == "embedded"
    assert config.scoring.weights["share"] == 2.0
    # Every key of the model is written in the shipped file, so users see them all.
    import yaml

    data = yaml.safe_load(default_config_path().read_text())
    assert set(data) >= {"graph", "nlp", "scoring", "import", "sample", "output", "brand_accounts"}
    assert set(data["graph"]) == set(type(config.graph).model_fields)
    assert set(data["nlp"]) == set(type(config.nlp).model_fields)


def test_relative_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "graph:\n  data_dir: g\n"), environ={})
    assert config.graph.data_dir == tmp_path / "g"


@pytest.mark.parametrize("text, key", [
    ("graph:\n  uri: http://example\n", "graph.uri"),
    ("graph:\n  bolt_port: 99999\n", "graph.bolt_port"),
    ("scoring:\n  weights:\n    like: 2\n", "scoring.weights"),
    ("scoring:\n  half_life_days: 0\n", "scoring.half_life_days"),
    ("nlp:\n  modle: x\n", "nlp.modle"),
    ("import:\n  timezone: Mars/Olympus\n", "import.timezone"),
    # impossible alert thresholds
    ("alerts:\n  influencer_negative:\n    max_polarity: 1.5\n", "alerts.influencer_negative.max_polarity"),
    ("alerts:\n  influencer_negative:\n    max_polarity: -2\n", "alerts.influencer_negative.max_polarity"),
    ("alerts:\n  influencer_negative:\n    min_community_influence: 101\n",
     "alerts.influencer_negative.min_community_influence"),
    ("alerts:\n  influencer_negative:\n    min_influence: -1\n", "alerts.influencer_negative.min_influence"),
    ("alerts:\n  influencer_negative:\n    min_influence: null\n    min_community_influence: null\n",
     "alerts.influencer_negative"),
    ("alerts:\n  influencer_negative:\n    window_days: 0\n", "alerts.influencer_negative.window_days"),
    ("alerts:\n  influencer_negative:\n    min_messages: 0\n", "alerts.influencer_negative.min_messages"),
    ("alerts:\n  new_influencer:\n    top_n: 0\n", "alerts.new_influencer.top_n"),
    ("alerts:\n  new_influencer:\n    severity: urgent\n", "alerts.new_influencer.severity"),
    ("alerts:\n  community_mood_drop:\n    drop: 3\n", "alerts.community_mood_drop.drop"),
    ("alerts:\n  community_mood_drop:\n    cooldown_hours: 0\n", "alerts.community_mood_drop.cooldown_hours"),
    ("alerts:\n  community_mood_drop:\n    trheshold: 0.3\n", "alerts.community_mood_drop.trheshold"),
    ("alerts:\n  churn:\n    enabled: true\n", "alerts.churn"),
    # influence model (issue 5)
    ("scoring:\n  sway:\n    window_hours: 0\n", "scoring.sway.window_hours"),
    ("scoring:\n  churn:\n    weights:\n      mood: 1\n", "scoring.churn.weights"),
    ("scoring:\n  churn:\n    weights:\n      activity_drop: 0\n", "scoring.churn.weights"),
    ("scoring:\n  outreach:\n    min_influence: 101\n", "scoring.outreach.min_influence"),
    ("scoring:\n  incremental:\n    max_changed_share: 0\n", "scoring.incremental.max_changed_share"),
])
def test_bad_value_is_one_line_naming_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: {key}: ")


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "graph:\n  uri: [unclosed\n")
    with pytest.raises(ConfigError, match=r"config.yaml: line \d+: not valid YAML"):
        load_config(path, environ={})


def test_environment_overrides_and_secrets(tmp_path: Path) -> None:
    path = write(tmp_path, "graph:\n  uri: embedded\n")
    config = load_config(path, environ={"AGORA_GRAPH__URI": "bolt://db:7687", "AGORA_GRAPH__PASSWORD": "0123",
                                        "AGORA_SCORING__HALF_LIFE_DAYS": "7"})
    assert config.graph.uri == "bolt://db:7687"
    assert config.graph.password == "0123"  # stays a string
    assert config.scoring.half_life_days == 7


def test_agora_config_variable_picks_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "scoring:\n  seed: 5\n")
    assert load_config(None, environ={"AGORA_CONFIG": str(path)}).scoring.seed == 5


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.yaml", environ={})


def test_a_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    path = write(tmp_path, "graph:\n  uri: embedded\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={"AGORA_GRAPH__BOLT_PORT": "99999"})
    assert str(info.value).startswith(f"{path} (overridden by $AGORA_GRAPH__BOLT_PORT): graph.bolt_port: ")


def test_scoring_sections_are_all_written_and_the_churn_weights_file_resolves(tmp_path: Path) -> None:
    import yaml

    config = load_config(default_config_path(), environ={})
    data = yaml.safe_load(default_config_path().read_text())["scoring"]
    assert set(data) == set(type(config.scoring).model_fields)
    for section in ("sway", "churn", "incremental", "outreach"):
        assert set(data[section]) == set(type(getattr(config.scoring, section)).model_fields), section
    config = load_config(write(tmp_path, "scoring:\n  churn:\n    weights_file: w.json\n"), environ={})
    assert config.scoring.churn.weights_file == tmp_path / "w.json"
