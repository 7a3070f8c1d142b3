//! Differential test of the `php_floats` layout against PHP itself: thousands of doubles (random
//! bit patterns, so every exponent and subnormals; short decimals at every scale; powers of ten
//! and two; the extremes) are written by `json_encode` in a real `php` process and by the
//! library, and must agree byte for byte. A second part hands PHP the number *text* a binding
//! would send (Python's repr, .NET's "R" and "G17", Rust's own forms) and compares
//! `json_encode(json_decode(text))` with the library's re-encoding under `Numbers::PhpDoubles`,
//! integers and GUIDs included. Requires `php` (scripts/setup.sh installs php8.2-cli); the test
//! fails, never skips, without it.

use mikrobill::protocol::phpfloat::php_double;
use mikrobill::protocol::phpjson::{reencode_with, Numbers};
use mikrobill_testkit::php;
use mikrobill_testkit::rng::Rng;

fn doubles() -> Vec<f64> {
    let mut rng = Rng(0x5eed_f10a_7d0b_1e55);
    let mut out = vec![
        0.0,
        -0.0,
        1.0,
        0.1,
        0.5,
        100.01,
        1e25,
        1e-7,
        5e-324,
        -5e-324,
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::MIN,
        f64::EPSILON,
        9007199254740993.0,
        9223372036854775808.0,
        18446744073709551615.0,
        0.1 + 0.2,
        1.0 / 3.0,
    ];
    for exp in -325..=308 {
        out.push(format!("1e{exp}").parse().unwrap());
        out.push(format!("-2.5e{exp}").parse().unwrap());
    }
    out.retain(|v: &f64| v.is_finite());
    for exp in -1074..=1023 {
        out.push(2f64.powi(exp));
    }
    while out.len() < 8000 {
        let candidate = match rng.below(3) {
            0 => f64::from_bits(rng.next()),
            1 => {
                // A short decimal at any scale: the values people actually write.
                let digits =
                    rng.below(10_000_000) as f64 * if rng.below(2) == 0 { 1.0 } else { -1.0 };
                let scale = rng.below(60) as i32 - 30;
                format!("{digits}e{scale}").parse().unwrap()
            }
            _ => (rng.next() >> 11) as f64 / (1u64 << rng.below(53)) as f64,
        };
        if candidate.is_finite() {
            out.push(candidate);
        }
    }
    out
}

/// The texts a binding may hand over for `value`, each a valid JSON number.
fn token_forms(value: f64) -> Vec<String> {
    let mut forms = vec![
        format!("{value:e}"),
        format!("{value:E}"),
        // 17 significant digits with a two-digit exponent, as .NET's "G17" writes it.
        {
            let e = format!("{value:.16E}");
            let (m, x) = e.split_once('E').unwrap();
            let x: i32 = x.parse().unwrap();
            format!("{m}E{}{:02}", if x < 0 { '-' } else { '+' }, x.abs())
        },
    ];
    let plain = format!("{value}");
    // Rust's Display writes integral doubles without a point; a binding adds ".0" so the token
    // reads as a double (Python's repr does the same).
    forms.push(if plain.contains('.') {
        plain
    } else {
        format!("{plain}.0")
    });
    forms
}

const PHP: &str = r#"
while (($line = fgets(STDIN)) !== false) {
    [$kind, $data] = explode(' ', trim($line), 2);
    if ($kind === 'D') {
        $out = json_encode(unpack('E', hex2bin($data))[1]);
    } else {
        $out = json_encode(json_decode($data));
    }
    echo $out === false ? 'FAILED ' . json_last_error_msg() : $out, "\n";
}
"#;

fn run_php(input: &str) -> Vec<String> {
    php::run_script(
        // PHP's defaults, made explicit so that a php.ini elsewhere cannot change the oracle.
        &["-n", "-d", "serialize_precision=-1", "-d", "precision=14"],
        PHP,
        input,
        "php is required for this test (scripts/setup.sh installs php8.2-cli)",
    )
}

fn compare(input: &str, expected: &[String]) {
    let got = run_php(input);
    assert_eq!(got.len(), expected.len(), "php answered every case");
    let lines: Vec<&str> = input.lines().collect();
    let mismatches: Vec<String> = got
        .iter()
        .zip(expected)
        .enumerate()
        .filter(|(_, (php, ours))| php != ours)
        .map(|(i, (php, ours))| format!("{}: php {php}, library {ours}", lines[i]))
        .collect();
    assert!(
        mismatches.is_empty(),
        "{} of {} differ, first: {:?}",
        mismatches.len(),
        expected.len(),
        &mismatches[..mismatches.len().min(5)]
    );
}

#[test]
fn doubles_are_written_as_php_json_encode_writes_them() {
    let values = doubles();
    assert!(values.len() >= 8000);
    let mut input = String::new();
    let mut expected = Vec::new();
    for value in &values {
        input.push_str(&format!("D {:016x}\n", value.to_bits()));
        expected.push(php_double(*value));
    }
    compare(&input, &expected);
}

#[test]
fn round_trip_number_text_is_reencoded_as_php_reencodes_it() {
    let mut rng = Rng(0x0dd_ba11_cafe_f00d);
    let mut input = String::new();
    let mut expected = Vec::new();
    for value in doubles().into_iter().step_by(3) {
        // Integers, GUIDs above 2^53 among them, must come out byte-identical beside the doubles.
        let guid = rng.next() >> (1 + rng.below(20));
        let small = rng.below(1000) as i64 - 500;
        let json = format!("[{},{guid},{small}]", token_forms(value).join(","));
        input.push_str(&format!("J {json}\n"));
        expected.push(reencode_with(&json, Numbers::PhpDoubles).unwrap());
    }
    compare(&input, &expected);
}
