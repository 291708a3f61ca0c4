from tests.integration.conftest import stack  # noqa: F401  (same live stack fixture)
