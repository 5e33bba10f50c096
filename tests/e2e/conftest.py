"""Every test under tests/e2e/ trains, installs or runs a tool end to end:
it is marked ``e2e`` here (``make test-fast`` runs ``-m "not e2e"``), and
keeps the distiller's build-time dry run (tests/conftest.py)."""
import pytest


def pytest_itemcollected(item):
    # Called for the items of this folder only (the hook goes through the
    # item's own conftest files), before ``-m`` selects.
    item.add_marker(pytest.mark.e2e)
