"""Configuration helpers."""


def is_affirmative(value):
    """Whether a configuration value means yes: a string `yes`, `true`,
    `1`, `y` or `on` in any case; any other value by its truth."""
    if isinstance(value, str):
        return value.lower() in {"yes", "true", "1", "y", "on"}
    return not not value
