<?php
/*
 * Prints the php.ini lines that make the web server's PHP use the MikroBILL shim in this folder,
 * for the platform it runs on, with this folder's own paths:
 *
 *   php /path/to/ini.php [--user=www-data] > /etc/php/8.2/fpm/conf.d/90-mikrobill.ini
 *
 * Linux: preloads the shim (opcache.preload; PHP's default ffi.enable=preload then lets only the
 * preloaded shim call into C). --user is opcache.preload_user, the user a root php-fpm master or
 * Apache parent preloads as (www-data by default, Debian's). Windows, where PHP has no
 * opcache.preload: loads FFI and enables it for every script, and says what that opens.
 * --dir=DIR prints the lines for a shim installed in DIR instead, and --platform=linux|windows
 * for that platform instead of this one (scripts/dist.sh makes the packages' inis so).
 * Nothing is written: the output goes where the caller puts it. Requested through a web server
 * (a copy that landed in the web root), it answers 404 and prints nothing.
 */

if (PHP_SAPI !== 'cli') {
    http_response_code(404);
    return;
}

(static function (array $args): void {
    $user = 'www-data';
    $dir = __DIR__;
    $windows = PHP_OS_FAMILY === 'Windows';
    foreach ($args as $arg) {
        if (strncmp($arg, '--user=', 7) === 0 && strlen($arg) > 7) {
            $user = substr($arg, 7);
        } elseif (strncmp($arg, '--dir=', 6) === 0 && strlen($arg) > 6) {
            $dir = rtrim(substr($arg, 6), '/\\');
        } elseif ($arg === '--platform=linux' || $arg === '--platform=windows') {
            $windows = $arg === '--platform=windows';
        } else {
            fwrite(STDERR, "usage: php ini.php [--user=NAME] [--dir=DIR] [--platform=linux|windows]\n");
            exit(2);
        }
    }
    if (preg_match('/[\s";=]/', $user . $dir)) {
        fwrite(STDERR, "ini.php: a user or folder with spaces, quotes, ';' or '=' cannot go into php.ini unquoted\n");
        exit(2);
    }
    if ($windows) {
        $lines = [
            '; MikroBILL shim. PHP has no opcache.preload on Windows, so FFI is enabled for every',
            '; script: any PHP file this server runs can call into C. Keep in the web root only files',
            '; you put there, and of the shim only the kassa\'s one-line apicore.php.',
            'extension=ffi',
            'ffi.enable=1',
        ];
    } else {
        $lines = [
            // phpenmod (Debian's mods-available mechanism) reads the link's priority from this
            // line, which must stand alone.
            '; priority=90',
            '; MikroBILL shim (' . $dir . '/apicore.php), preloaded by php-fpm or Apache\'s mod_php at',
            '; start-up. FFI stays limited to preloaded code (ffi.enable=preload, PHP\'s default): other',
            '; scripts in the web root cannot call into C. Restart the server after changing this file,',
            '; the shim or the library; a missing library stops the start with a message in its log.',
            'opcache.enable=1',
            'opcache.preload=' . $dir . '/preload.php',
            'opcache.preload_user=' . $user,
            'ffi.enable=preload',
        ];
    }
    echo implode(PHP_EOL, $lines), PHP_EOL;
})(array_slice($argv, 1));
