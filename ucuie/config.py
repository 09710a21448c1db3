"""The one config loader: validate a workflow config against its JSON schema.

The schema lives in ``rules/config.schema.yaml``; ``rules/common.smk`` calls
:func:`validate_config` before Snakemake builds any job, so a bad key or value stops the run
with one sentence that names the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "rules" / "config.schema.yaml"


class ConfigError(ValueError):
    """The config has a bad key or value; the message names it."""


def _key_path(path) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def _sentence(error: jsonschema.ValidationError) -> str:
    key = _key_path(error.absolute_path)
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        allowed = ", ".join(sorted(error.schema.get("properties", {})))
        where = "at the top level" if key == "<top level>" else f"under '{key}'"
        return f"config key '{'.'.join(filter(None, [key if key != '<top level>' else '', extra[0]]))}' is not known {where} (known keys: {allowed})"
    if error.validator == "required":
        return f"config is missing a required key under '{key}': {error.message}"
    return f"config key '{key}' is invalid: {error.message}"


def validate_config(config: dict[str, Any], schema_path: str | Path = SCHEMA_PATH) -> dict[str, Any]:
    """Fill in schema defaults and raise :class:`ConfigError` naming the first bad key."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator_cls = jsonschema.validators.validator_for(schema)

    def set_defaults(validator, properties, instance, schema):
        # Defaults make every key the workflow reads present, so rules need no .get() fallbacks.
        for name, sub in properties.items():
            if isinstance(instance, dict) and "default" in sub:
                instance.setdefault(name, sub["default"])
        yield from validator_cls.VALIDATORS["properties"](validator, properties, instance, schema)

    extended = jsonschema.validators.extend(validator_cls, {"properties": set_defaults})
    errors = sorted(extended(schema).iter_errors(config), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        raise ConfigError(_sentence(errors[0]))
    return config


def load_config(path: str | Path, schema_path: str | Path = SCHEMA_PATH) -> dict[str, Any]:
    """Read a YAML config file and validate it."""
    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    return validate_config(config, schema_path)
