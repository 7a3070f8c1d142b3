<?php

/** Deployment error: the native library cannot be used (thrown by the constructor only). */
class MikroBILL_Exception extends RuntimeException
{
}
