<?php
/*
 * MikroBILL API client for kassa extensions: a drop-in replacement for the original
 * kassa/apicore.php. Same class and methods; the wire work (AES-CBC frames, auth, reconnects)
 * is done by the Rust library libmikrobill.so through PHP FFI, so neither mcrypt nor the
 * removed mysql_* functions are needed. PHP 7.4 to 8.4.
 *
 *   include 'apicore.php';
 *   $Api = new MikroBILL_API($Host, $Port, $Login, $Password);   // keys from config.php + workparams
 *   echo $Api->Process('API.GetClients');
 *
 * Runtime failures never throw from Process(): like the original, they come back as JSON error
 * text {"return":..,"result":..,"code":N} with N != 0. Only deployment errors (no FFI, library or
 * header not found, wrong library version) throw MikroBILL_Exception from the constructor.
 *
 * The classes are declared only if no copy of this file was loaded before: opcache.preload
 * (preload.php) preloads one copy, and a kassa script may still include another copy from
 * another path (or Composer's autoloader and a kassa include both load it). Unguarded, the
 * second copy is a fatal "Cannot declare class". The guard tests MikroBILL_FFI, which only
 * this file declares, so the original apicore.php loaded first still fails loudly on
 * MikroBILL_API instead of silently serving the old client. Preloading still works with the
 * declarations inside the `if`: preload.php executes this file, and every class declared
 * while preloading is preloaded (methods of preloaded classes may use FFI under
 * ffi.enable=preload).
 */
