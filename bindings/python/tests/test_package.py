"""The installed package: its version and its public surface."""

import importlib.metadata

import mikrobill
from mikrobill import MikroBILL_API
from mikrobill._generated import VERSION


def test_the_package_version_is_the_librarys_from_the_generated_table():
    # pyproject.toml reads its version from mikrobill._generated (dynamic version), so the
    # installed metadata, __version__ and the library version the loader requires are one.
    assert importlib.metadata.version("mikrobill") == VERSION
    assert mikrobill.__version__ == VERSION


def test_public_methods_are_the_php_and_pythonic_names_only():
    public = {name for name in dir(MikroBILL_API) if not name.startswith("_")}
    assert public == {
        # PHP surface
        "Process", "Close", "CheckConnection",
        # Pythonic face (close() and the context manager release the handle)
        "process", "process_json", "check_connection", "disconnect", "close", "closed",
    }
