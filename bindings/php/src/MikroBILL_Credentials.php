<?php

/**
 * Holds a client's password and keys outside every object property: the values live in a static
 * table keyed by this property-less object's id. var_export(), (array) casts and
 * debug_zval_dump() ignore __debugInfo() and show all properties, including those of nested
 * objects; a static property appears in none of them. The entry goes away with the holder (a
 * table by object id rather than a WeakMap, which PHP 7.4 lacks: the destructor removes the entry
 * before PHP may give the id to another object). Clones of a client share its holder: same
 * credentials, and keys one of them later reads from the installation serve both.
 */
final class MikroBILL_Credentials
{
    /** @var array object id => array(password, key1, key2) */
    private static $values = array();

    public function __construct(
        #[\SensitiveParameter]
        string $password,
        #[\SensitiveParameter]
        ?string $key1,
        #[\SensitiveParameter]
        ?string $key2
    ) {
        $this->set($password, $key1, $key2);
    }

    public function __destruct()
    {
        unset(self::$values[spl_object_id($this)]);
    }

    /** @return array{0:string,1:?string,2:?string} password, key1, key2 */
    public function get(): array
    {
        return self::$values[spl_object_id($this)];
    }

    public function set(
        #[\SensitiveParameter]
        string $password,
        #[\SensitiveParameter]
        ?string $key1,
        #[\SensitiveParameter]
        ?string $key2
    ): void {
        self::$values[spl_object_id($this)] = array($password, $key1, $key2);
    }

    /**
     * The password's config key: `password` for UTF-8 text, else `password_base64` with its raw
     * bytes. A kassa saved in CP1251 holds a CP1251 password, which the original hashed byte for
     * byte (sha1($Password . $sign)); JSON carries only UTF-8 text, so such a password goes as
     * base64, and the library hashes the same bytes.
     */
    public function passwordConfig(): array
    {
        $password = $this->get()[0];
        if (preg_match('//u', $password) === 1) {
            return array('password' => $password);
        }
        return array('password_base64' => base64_encode($password));
    }

    /** A copy would have no entry in the table. */
    private function __clone()
    {
    }
}
