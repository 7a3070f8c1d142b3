"""Ask the real PHP interpreter what json_encode produces: the oracle for PHP-compatible text."""

import shutil
import subprocess
from pathlib import Path

# Defaults made explicit so a php.ini elsewhere cannot change the oracle.
_PHP_FLAGS = ["-n", "-d", "serialize_precision=-1", "-d", "precision=14"]


def php_binary():
    path = shutil.which("php")
    if path is None:
        raise RuntimeError("php (php8.2-cli) is required as the json_encode oracle and was not found")
    return path


def _run(code, stdin_text):
    result = subprocess.run([php_binary()] + _PHP_FLAGS + ["-r", code], input=stdin_text.encode("utf-8"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if result.returncode != 0:
        raise RuntimeError("php failed: %s" % result.stderr.decode("utf-8", "replace"))
    return result.stdout.decode("utf-8")


def php_request(path, value_json):
    """The request plaintext the original PHP client builds for Process(path, value).

    value_json is decoded into PHP values first (objects stay objects, so key order and object vs
    array survive), then encoded the way apicore.php does: json_encode(array(path, value)).
    """
    code = ('$in = json_decode(stream_get_contents(STDIN)); '
            'echo json_encode(array("path" => $in[0], "value" => json_decode($in[1])));')
    import json
    return _run(code, json.dumps([path, value_json]))


_ORIGINAL_STYLE = Path(__file__).resolve().parents[2] / "php" / "tests" / "original-style-reply.php"


def original_style_reply(port, login, password, path, key1=None, key2=None):
    """The reply a client behaving as the original PHP client (mcrypt, fsockopen) gives to one
    Process(path) call against the simulator on `port`."""
    from conftest import KEY1, KEY2
    args = [php_binary(), str(_ORIGINAL_STYLE), "127.0.0.1", str(port), login, password,
            key1 or KEY1, key2 or KEY2, path]
    result = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False, timeout=60)
    if result.returncode != 0:
        raise RuntimeError("the original-style client failed: %s" % result.stderr.decode("utf-8", "replace"))
    return result.stdout.decode("utf-8").strip()


def php_error_json(code, text, detail=None):
    """The library's error shape as PHP's json_encode writes it (the original client's bytes)."""
    php = ('$in = json_decode(stream_get_contents(STDIN)); '
           '$e = array("return" => $in[1], "result" => $in[1], "code" => $in[0]); '
           'if ($in[2] !== null) { $e["detail"] = $in[2]; } '
           'echo json_encode($e);')
    import json
    return _run(php, json.dumps([code, text, detail]))
