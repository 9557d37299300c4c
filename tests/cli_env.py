"""The environment of a `winback` subprocess in tests: none of the developer's WINBACK_* settings
or DAGSTER_HOME, but the test session's own (the platform limits file without the ad platforms'
minimum sizes: the hand-made data sets are far below them), and the given settings."""

import os

SESSION_SETTINGS = ("WINBACK_PLATFORMS",)


def cli_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WINBACK_", "DAGSTER_HOME"))}
    env.update({name: os.environ[name] for name in SESSION_SETTINGS if name in os.environ})
    env.update(settings)
    return env
