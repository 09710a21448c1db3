"""Config validation: defaults filled in, every bad key or value named in one sentence."""

from __future__ import annotations

import copy

import pytest
import yaml

from ucuie.config import ConfigError, load_config, validate_config

MINIMAL = {
    "run": "t",
    "backbone": {"source": "random-llama", "name": "tiny"},
    "data": {"datasets": {"news": {"format": "demo"}}},
}


def _validate(**changes):
    config = copy.deepcopy(MINIMAL)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = config
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return validate_config(config)


def test_defaults_are_filled_in():
    config = _validate()
    assert config["seed"] == 13
    assert config["instructions"]["backend"] == "pool"
    assert config["instructions"]["openai"]["api_key_env"] == "OPENAI_API_KEY"
    assert config["evaluation"]["max_new_tokens"]["ee"] == 128
    assert config["data"]["datasets"]["news"]["held_out"] is False
    assert config["data"]["low_resource"]["fractions"] == [0.01, 0.05, 0.1]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"trainig": {}}, "config key 'trainig' is not known at the top level"),
        ({"instructions__backnd": "hf"}, "config key 'instructions.backnd' is not known under 'instructions'"),
        ({"instructions__backend": "gpt"}, "config key 'instructions.backend' is invalid: 'gpt' is not one of"),
        ({"seed": "seven"}, "config key 'seed' is invalid: 'seven' is not of type 'integer'"),
        ({"data__datasets__news__format": "csv"}, "config key 'data.datasets.news.format' is invalid"),
        ({"data__datasets__news__pth": "x"}, "config key 'data.datasets.news.pth' is not known"),
        ({"run": "has space"}, "config key 'run' is invalid"),
        ({"data__low_resource__fractions": [0.0]}, "config key 'data.low_resource.fractions.0' is invalid"),
    ],
)
def test_bad_key_or_value_is_named(changes, message):
    with pytest.raises(ConfigError) as info:
        _validate(**changes)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_required_key_is_named():
    config = copy.deepcopy(MINIMAL)
    del config["backbone"]["name"]
    with pytest.raises(ConfigError, match="under 'backbone'.*'name' is a required property"):
        validate_config(config)


def test_shipped_configs_are_valid(tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for path in [root / "config.yaml", *sorted((root / "configs").glob("*.yaml"))]:
        config = load_config(path)
        assert config["run"], path
    bad = tmp_path / "bad.yaml"
    bad.write_text("run: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml is not valid YAML"):
        load_config(bad)
    bad.write_text(yaml.safe_dump({**MINIMAL, "extra": 1}))
    with pytest.raises(ConfigError, match="'extra' is not known"):
        load_config(bad)
