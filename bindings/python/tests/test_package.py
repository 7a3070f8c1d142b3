"""The installed package: its version and its public surface."""

import re

import mikrobill
from mikrobill import MikroBILL_API

from conftest import HERE


def test_version_is_the_one_in_pyproject():
    text = (HERE.parent / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'^version = "([^"]+)"$', text, re.MULTILINE)
    assert match
    assert mikrobill.__version__ == match.group(1)


def test_public_methods_are_the_php_and_pythonic_names_only():
    public = {name for name in dir(MikroBILL_API) if not name.startswith("_")}
    assert public == {
        # PHP surface
        "Process", "Close", "CheckConnection",
        # Pythonic face (close() and the context manager release the handle)
        "process", "process_json", "check_connection", "disconnect", "close", "closed",
        # cancels another thread's call in progress (mb_cancel)
        "cancel",
    }
