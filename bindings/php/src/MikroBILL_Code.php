<?php

/**
 * Every code a failed call reports, by name: the library's own (MikroBILL_LibraryCode, generated
 * from the library's table) and the two this shim adds for what only PHP does, reading the keys
 * from the installation. A failed connect reports the OS errno instead (1..4095), a refused login
 * the server's own code, a failed CRYPTO_KEY_2 lookup the MySQL errno.
 */
final class MikroBILL_Code implements MikroBILL_LibraryCode
{
    /** config.php was not found one folder above kassa (the original's code and text). */
    const CONFIG_NOT_FOUND = 5;
    /** Table workparams has no CRYPTO_KEY_2 row (or an empty one). */
    const KEY2_ROW_MISSING = 9010;
}
