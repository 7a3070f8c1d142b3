//! Differential test against PHP itself: json_encode and mcrypt_encrypt (php8.2-mcrypt reproduces
//! the original client's crypto exactly) on a few hundred generated cases, compared with what the
//! library writes. Requires `php` with the mcrypt extension (scripts/setup.sh installs it).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use mikrobill::protocol::crypto::Cipher;
use mikrobill::protocol::phpjson;
use mikrobill_testkit::{php, rng};
use rng::Rng;
use serde_json::{Map, Value};

const ALPHABET: &[char] = &[
    'a',
    'Z',
    '0',
    ' ',
    '/',
    '\\',
    '"',
    '\'',
    '<',
    '&',
    '\u{0}',
    '\u{1}',
    '\u{8}',
    '\t',
    '\n',
    '\u{c}',
    '\r',
    '\u{1f}',
    '\u{7f}',
    '\u{80}',
    'é',
    'Ж',
    'ё',
    '€',
    '中',
    '\u{fffd}',
    '\u{ffff}',
    '😀',
    '\u{10ffff}',
    '.',
];

fn random_string(rng: &mut Rng) -> String {
    let len = rng.below(40) as usize;
    (0..len)
        .map(|_| ALPHABET[rng.below(ALPHABET.len() as u64) as usize])
        .collect()
}

fn random_value(rng: &mut Rng, depth: u32) -> Value {
    match rng.below(if depth > 3 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 1),
        2 => Value::from(rng.next() as i64 >> rng.below(60)),
        3 | 4 => Value::String(random_string(rng)),
        5 => Value::Array(
            (0..rng.below(4))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let mut map = Map::new();
            for i in 0..rng.below(4) {
                map.insert(
                    format!("k{i}{}", random_string(rng)),
                    random_value(rng, depth + 1),
                );
            }
            Value::Object(map)
        }
    }
}

const PHP: &str = r#"
while (($line = fgets(STDIN)) !== false) {
    [$kind, $a, $b, $c] = explode(' ', trim($line)) + [null, null, null, null];
    if ($kind === 'S') {
        echo json_encode(base64_decode($a)), "\n";
    } elseif ($kind === 'J') {
        echo json_encode(json_decode(base64_decode($a))), "\n";
    } else {
        echo bin2hex(mcrypt_encrypt(MCRYPT_RIJNDAEL_128, base64_decode($b), base64_decode($a),
            MCRYPT_MODE_CBC, base64_decode($c))), "\n";
    }
}
"#;

fn run_php(input: &str) -> Vec<String> {
    php::run_script(
        // mcrypt is deprecated in PHP 8: silence that notice, keep every other one.
        &[
            "-d",
            "error_reporting=8191",
            "-d",
            "log_errors=0",
            "-d",
            "display_errors=stderr",
        ],
        PHP,
        input,
        "php with the mcrypt extension is required for this test (scripts/setup.sh)",
    )
}

#[test]
fn json_encode_and_mcrypt_agree_with_the_library() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut input = String::new();
    let mut expected = Vec::new();
    for _ in 0..300 {
        let s = random_string(&mut rng);
        input.push_str(&format!("S {}\n", STANDARD.encode(&s)));
        let mut ours = String::new();
        phpjson::write_str(&mut ours, &s);
        expected.push(ours);
    }
    for _ in 0..300 {
        let v = random_value(&mut rng, 0);
        input.push_str(&format!("J {}\n", STANDARD.encode(v.to_string())));
        expected.push(phpjson::encode(&v));
    }
    for i in 0..300 {
        // Lengths around block boundaries matter most for the zero padding.
        let len = 1 + (i % 70);
        let plain = rng.bytes(len);
        let key = rng.bytes([16, 24, 32][i % 3]);
        let iv = rng.bytes(16);
        input.push_str(&format!(
            "C {} {} {}\n",
            STANDARD.encode(&plain),
            STANDARD.encode(&key),
            STANDARD.encode(&iv)
        ));
        let ct = Cipher::from_bytes(&key, &iv).unwrap().encrypt(&plain);
        expected.push(ct.iter().map(|b| format!("{b:02x}")).collect());
    }
    let got = run_php(&input);
    assert_eq!(got.len(), expected.len(), "php answered every case");
    let lines: Vec<&str> = input.lines().collect();
    for (i, (php, ours)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(php, ours, "case {i}: {}", lines[i]);
    }
}
