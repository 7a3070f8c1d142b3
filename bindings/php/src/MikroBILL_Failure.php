<?php

/** Internal: a runtime failure that Process() reports as JSON error text, never throws. */
class MikroBILL_Failure extends Exception
{
    /** @var string|null a detail for the error JSON's "detail" member */
    private $detail;

    public function __construct(string $message, int $code, ?string $detail = null)
    {
        // A failure must never look like success to a caller that checks "code".
        parent::__construct($message, $code === 0 ? MikroBILL_Code::INTERNAL : $code);
        $this->detail = $detail;
    }

    /** The library's last error on this thread, after one of its functions returned $code. */
    public static function fromLibrary(MikroBILL_Native $native, int $code): self
    {
        $message = $native->lastErrorMessage();
        return new self($message ?? 'the library failed without an error text', $code);
    }

    public function toJson(): string
    {
        return self::errorJson($this->getCode(), $this->getMessage(), $this->detail);
    }

    /** The error JSON the library writes on failure, {"return":..,"result":..,"code":N[,"detail":..]},
     *  for the failures this shim finds itself: callers parse one format. */
    public static function errorJson(int $code, string $text, ?string $detail = null): string
    {
        $error = array('return' => $text, 'result' => $text, 'code' => $code);
        if ($detail !== null && $detail !== '') {
            $error['detail'] = $detail;
        }
        return json_encode($error, JSON_INVALID_UTF8_SUBSTITUTE);
    }
}
