"""Python binding for the MikroBILL billing API client (libmikrobill).

    from mikrobill import MikroBILL_API
    with MikroBILL_API("127.0.0.1", 7403, "api", "secret", KEY1, KEY2) as api:
        print(api.Process("API.GetClients"))
"""

from ._api import MikroBILL_API, pool_clear, pool_stats
from ._cancel import CancelToken
from ._encoder import encode_value
from ._generated import VERSION
from ._loader import LIB_NAME, library_info
from .errors import Code, LibraryLoadError, MikroBILLError

__all__ = [
    "MikroBILL_API",
    "CancelToken",
    "pool_stats",
    "pool_clear",
    "MikroBILLError",
    "Code",
    "LibraryLoadError",
    "encode_value",
    "library_info",
    "LIB_NAME",
]

# The library version this package is generated for, which pyproject.toml also reads as the
# package's own version: the one place it is written is the library's table (src/abi.rs).
__version__ = VERSION
