"""Python binding for the MikroBILL billing API client (libmikrobill).

    from mikrobill import MikroBILL_API
    with MikroBILL_API("127.0.0.1", 7403, "api", "secret", KEY1, KEY2) as api:
        print(api.Process("API.GetClients"))
"""

import importlib.metadata as _metadata

from ._api import MikroBILL_API, pool_clear, pool_stats
from ._encoder import encode_value
from ._loader import LIB_NAME, library_info
from .errors import Code, LibraryLoadError, MikroBILLError

__all__ = [
    "MikroBILL_API",
    "pool_stats",
    "pool_clear",
    "MikroBILLError",
    "Code",
    "LibraryLoadError",
    "encode_value",
    "library_info",
    "LIB_NAME",
]

# pyproject.toml is the one place the version is written; an installed package reports it.
try:
    __version__ = _metadata.version("mikrobill")
except _metadata.PackageNotFoundError:
    # Imported from a source tree that was never installed: there is no metadata to read.
    __version__ = "0+unknown"
