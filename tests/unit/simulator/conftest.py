"""The simulator puts firmware/ on sys.path (simulator/__init__.py) before a test module
here imports vafa, whichever file is run alone."""

import simulator  # noqa: F401
