"""Test configuration: reproducible property tests in CI."""

import os

from hypothesis import settings

# CI runs the same examples every time (a red build is then reproducible locally with
# CI=true); developers' runs keep exploring new ones.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
