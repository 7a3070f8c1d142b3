<?php
/*
 * opcache.preload script for the MikroBILL shim (php-fpm with ffi.enable=preload, the default).
 *
 *   opcache.enable=1
 *   opcache.preload=/path/to/bindings/php/preload.php
 *   opcache.preload_user=www-data        ; required when the php-fpm master runs as root
 *   ffi.enable=preload
 *
 * Under ffi.enable=preload, request code may use FFI only from preloaded functions or through
 * scopes registered at preload. This script does both:
 *  1. It preloads the shim's classes (require below), so MikroBILL_FFI's methods are preloaded
 *     and may call FFI::cdef at request time.
 *  2. Where PHP allows it, it also registers the header as FFI scope "MIKROBILL", bound to
 *     libmikrobill.so, so requests reuse the parsed header through FFI::scope(). PHP refuses
 *     FFI::load when preloading runs in a child as opcache.preload_user (a root master); then
 *     step 1 alone is used. FFI_SCOPE/FFI_LIB must be preprocessor lines, which the committed
 *     header must not carry, so they go into a private temporary copy deleted after loading.
 * Finally it opens the library once, so a missing library or wrong version stops the server
 * start with a clear message instead of failing every request.
 *
 * The library and header are found as at run time: MIKROBILL_LIB / MIKROBILL_HEADER in the
 * environment of the php-fpm master, next to apicore.php, then the system library path.
 */

require_once __DIR__ . '/apicore.php';

(static function () {
    $header = MikroBILL_FFI::headerText();
    foreach (MikroBILL_FFI::libraryCandidates() as $lib) {
        if (MikroBILL_FFI::libraryFileProblem($lib) !== null) {
            continue; // loading it could kill the server with SIGBUS; open() below names the problem
        }
        $file = tempnam(sys_get_temp_dir(), 'mikrobill-h');
        file_put_contents($file, '#define FFI_SCOPE "' . MikroBILL_FFI::SCOPE . "\"\n"
            . '#define FFI_LIB "' . addcslashes($lib, "\"\\") . "\"\n" . $header);
        try {
            // Returns null (with a warning) or throws when the library cannot be opened.
            $scope = @FFI::load($file);
        } catch (Throwable $e) {
            $scope = null;
        } finally {
            unlink($file);
        }
        if ($scope !== null) {
            break;
        }
    }
    MikroBILL_FFI::open();
})();
