<?php

/**
 * The constructor's $Host and $Port read as the original's fsockopen($Host, $Port) reads them,
 * turned into the plain host and integer port the library's config takes:
 *   - a "tcp://" prefix is the plain TCP fsockopen uses anyway, and is dropped; every other
 *     transport (ssl://, tls://, udp://, unix://...) is refused by name: the core's API port
 *     speaks plain TCP carrying its own AES frames, and a TLS handshake would only hang there;
 *   - "[::1]" (what fsockopen wants for IPv6) loses its brackets; a bare "::1" is taken too;
 *   - the port is an int, an integral float, or a numeric string with surrounding whitespace
 *     (" 7403", "7403\n" from a settings file), read as (int) as fsockopen's int parameter does;
 *   - a port of 0, -1 or NULL makes fsockopen take the port from the host ("host:7403",
 *     "[::1]:7403"), and so does this.
 * A value none of these fits is a runtime failure (9005), reported by the call as JSON like the
 * other failures, where the original would have thrown a TypeError or failed to connect.
 */
final class MikroBILL_Address
{
    /** What fsockopen skips around a numeric string (PHP's own whitespace set for numbers). */
    const NUMERIC_SPACE = " \t\n\r\v\f";

    /**
     * @param mixed $port as given to the constructor
     * @return array{0:string,1:int} host, port
     * @throws MikroBILL_Failure 9005
     */
    public static function resolve(string $host, $port): array
    {
        $host = self::withoutTransport($host);
        $number = self::port($port);
        if ($number <= 0) {
            list($host, $number) = self::portFromHost($host, $port);
        }
        if (strlen($host) > 2 && $host[0] === '[' && substr($host, -1) === ']') {
            $host = substr($host, 1, -1);
        }
        return array($host, $number);
    }

    /** The host without a "tcp://" prefix. @throws MikroBILL_Failure for any other transport */
    private static function withoutTransport(string $host): string
    {
        if (!preg_match('#\A([A-Za-z][A-Za-z0-9+.-]*)://#', $host, $m)) {
            return $host;
        }
        if (strtolower($m[1]) === 'tcp') {
            return substr($host, strlen($m[0]));
        }
        throw new MikroBILL_Failure('Invalid argument: the transport ' . $m[0] . ' is not supported; the MikroBILL'
            . ' API port speaks plain TCP (with its own AES encryption): give the host without a prefix, or with tcp://',
            MikroBILL_Code::INVALID_ARGUMENT);
    }

    /**
     * The port as fsockopen's int parameter takes it; 0 when absent (NULL).
     * @throws MikroBILL_Failure when it is not a number
     */
    private static function port($port): int
    {
        if (is_int($port)) {
            return $port;
        }
        if ($port === null) {
            return 0;
        }
        if (is_string($port)) {
            $trimmed = trim($port, self::NUMERIC_SPACE);
            if (is_numeric($trimmed)) {
                $port = $trimmed + 0;
                if (is_int($port)) {
                    return $port;
                }
            }
        }
        if (is_float($port) && is_finite($port) && floor($port) === $port && abs($port) <= PHP_INT_MAX) {
            return (int)$port;
        }
        throw new MikroBILL_Failure('Invalid argument: the port ' . self::shown($port) . ' is not a whole number',
            MikroBILL_Code::INVALID_ARGUMENT);
    }

    /**
     * "host:port" or "[v6]:port" split as fsockopen splits a host given without a port.
     * @return array{0:string,1:int}
     * @throws MikroBILL_Failure when the host names no port either
     */
    private static function portFromHost(string $host, $given): array
    {
        $colon = strrpos($host, ':');
        // The port's colon: right after "]" for "[v6]:port", else the only colon (an IPv6
        // address without brackets has several, and names no port).
        $portColon = $colon !== false && $colon > 0
            && ($host[0] === '[' ? $colon === strrpos($host, ']') + 1 : substr_count($host, ':') === 1);
        if ($portColon) {
            $digits = substr($host, $colon + 1);
            if (MikroBILL_Keys::isDigits($digits)) {
                return array(substr($host, 0, $colon), (int)$digits);
            }
        }
        throw new MikroBILL_Failure('Invalid argument: no port: the port given is ' . self::shown($given)
            . ' and the host names none (host:port)', MikroBILL_Code::INVALID_ARGUMENT);
    }

    /** A port value for an error text: its type and, for scalars, the value (ports are not secret). */
    private static function shown($value): string
    {
        return is_scalar($value) || $value === null ? var_export($value, true) : gettype($value);
    }
}
