# What config.json's check (vafa.config) and the remote settings' check (vafa.settings)
# share: the error both raise, the integer test, and the names a cmd "set" may change.
# vafa.config keeps it loaded; vafa.settings is loaded only for a check and dropped after.


class ConfigError(ValueError):
    pass


# The settings a shop changes from the panel (issue 16), checked by vafa.settings.
SETTINGS = ("lang", "contrast", "footer", "idle_s", "pin_sha", "ops")


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)
