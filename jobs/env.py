"""Strict parsing of environment values: a malformed value is an error naming the variable."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit


class ConfigError(ValueError):
    """An environment variable holds a value that cannot be used."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_str(env: Mapping[str, str], name: str, default: str | None) -> str | None:
    value = env.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def env_int(
    env: Mapping[str, str],
    name: str,
    default: int,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    raw = env_str(env, name, None)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name} must be <= {maximum}, got {value}")
    return value


def env_float(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = env_str(env, name, None)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env_str(env, name, None)
    if raw is None:
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ConfigError(f"{name} must be one of true/false/1/0/yes/no/on/off, got {raw!r}")


def env_choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(env, name, default) or default
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


REDIS_SCHEMES = ("redis", "rediss", "unix")


def env_redis_url(env: Mapping[str, str], name: str, default: str) -> str:
    """A Redis URL (redis://, rediss:// or unix://) whose host, port and database parse."""
    value = env_str(env, name, default) or default
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError when the port is not a number
    except ValueError:
        raise ConfigError(f"{name} is not a valid Redis URL") from None
    if parts.scheme not in REDIS_SCHEMES:
        raise ConfigError(
            f"{name} must start with one of {', '.join(s + '://' for s in REDIS_SCHEMES)}"
        )
    if parts.scheme != "unix" and not parts.hostname:
        raise ConfigError(f"{name} has no host")
    database = parts.path.strip("/")
    if parts.scheme != "unix" and database and not database.isdigit():
        raise ConfigError(f"{name}: the database (after the host) must be a number")
    return value
