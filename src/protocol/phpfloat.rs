//! Doubles written as PHP's `json_encode` writes them with the default `serialize_precision=-1`
//! (PHP 7.1+): the shortest digits that read back as the same double, laid out by PHP's
//! `php_gcvt` with precision 17. Rust's `{:e}` already yields those shortest round-trip digits,
//! so only PHP's layout is written here:
//!
//! - exponent form `d.ddde±X` when the decimal point lies more than 4 places left of the first
//!   digit (`1.0e-5`, but `0.0001`) or more than 17 places right of it (`1.0e+17`, but
//!   `10000000000000000`), always with a digit after the point (`1.0e+25`);
//! - otherwise plain digits, with no `.0` for integral values (`1`, `100`) and `-0` for
//!   negative zero.

use std::fmt::Write;

/// `php_gcvt`'s precision when `serialize_precision` is -1.
const PHP_PRECISION: i32 = 17;

/// A number token that PHP would decode to a double it cannot encode again: `json_encode` fails
/// with "Inf and NaN cannot be JSON encoded" for a value such as `1e400`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotFinite(pub String);

impl std::fmt::Display for NotFinite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the number {} is beyond the range of a double (PHP json_encode refuses Inf)",
            self.0
        )
    }
}

/// True for JSON number text that PHP's `json_decode` reads as a double rather than an integer:
/// it has a fraction or an exponent. Integer tokens, however long, are never touched here.
pub(crate) fn is_double_token(text: &str) -> bool {
    text.bytes().any(|b| matches!(b, b'.' | b'e' | b'E'))
}

/// Writes the JSON number `token` as PHP writes the double it denotes.
pub(crate) fn write_token(out: &mut String, token: &str) -> Result<(), NotFinite> {
    // Rust's parser rounds correctly, as PHP's zend_strtod does; JSON number syntax is a subset
    // of what it accepts, and the token was already validated as JSON.
    let value: f64 = token.parse().map_err(|_| NotFinite(token.to_string()))?;
    if !value.is_finite() {
        return Err(NotFinite(token.to_string()));
    }
    write_double(out, value);
    Ok(())
}

/// Writes a finite double in PHP's layout. Panics on NaN or infinity, which no JSON token holds.
pub(crate) fn write_double(out: &mut String, value: f64) {
    assert!(value.is_finite(), "json_encode has no text for {value}");
    if value.is_sign_negative() {
        out.push('-');
    }
    let scientific = shortest_scientific(value.abs());
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("{:e} always writes an exponent");
    let exponent: i32 = exponent.parse().expect("{:e} writes a decimal exponent");
    let digits: String = mantissa.chars().filter(|&c| c != '.').collect();
    // The value is 0.DIGITS × 10^point, dtoa's "decpt" convention that php_gcvt works with.
    let point = exponent + 1;
    if value == 0.0 {
        out.push('0');
    } else if !(-3..=PHP_PRECISION).contains(&point) {
        out.push_str(&digits[..1]);
        out.push('.');
        out.push_str(if digits.len() == 1 { "0" } else { &digits[1..] });
        let _ = write!(
            out,
            "e{}{}",
            if point > 0 { '+' } else { '-' },
            (point - 1).abs()
        );
    } else if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', point.unsigned_abs() as usize));
        out.push_str(&digits);
    } else if digits.len() <= point as usize {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', point as usize - digits.len()));
    } else {
        let (whole, fraction) = digits.split_at(point as usize);
        out.push_str(whole);
        out.push('.');
        out.push_str(fraction);
    }
}

/// The shortest digits that read back as `value`, as "D.DDDeX" (or "De0"). Rust's `{:e}` gives
/// the shortest digit count; when two strings of that length read back alike and lie equally
/// far from the exact value (27788389721566.5625 as ...566.562 or ...566.563), zend_dtoa takes
/// the even one, which Rust's exactly rounded `{:.N$e}` (half to even) gives; it is taken
/// whenever it reads back as the same double.
fn shortest_scientific(value: f64) -> String {
    let shortest = format!("{value:e}");
    let digits = shortest
        .split('e')
        .next()
        .unwrap_or("")
        .replace('.', "")
        .len();
    let rounded = format!("{value:.*e}", digits.saturating_sub(1));
    if rounded.parse::<f64>() == Ok(value) {
        rounded
    } else {
        shortest
    }
}

/// A double as PHP's `json_encode` writes it.
pub fn php_double(value: f64) -> String {
    let mut out = String::new();
    write_double(&mut out, value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each expected text is what `php -r 'echo json_encode(X);'` printed with PHP 8.2.
    #[test]
    // Literals are spelled as PHP was given them, beyond the digits a double keeps.
    #[allow(clippy::excessive_precision)]
    fn layout_matches_php_at_its_boundaries() {
        let cases: &[(f64, &str)] = &[
            (1.0, "1"),
            (10.0, "10"),
            (0.1, "0.1"),
            (1e25, "1.0e+25"),
            (1e-7, "1.0e-7"),
            (-1e-7, "-1.0e-7"),
            (-0.0, "-0"),
            (0.0, "0"),
            (100.01, "100.01"),
            (1e15, "1000000000000000"),
            (1e16, "10000000000000000"),
            (1e17, "1.0e+17"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (0.0001, "0.0001"),
            (0.00001, "1.0e-5"),
            (2.5e-5, "2.5e-5"),
            (5e-324, "5.0e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (0.1 + 0.2, "0.30000000000000004"),
            (9223372036854775808.0, "9.223372036854776e+18"),
            (0.000123456789012345678, "0.00012345678901234567"),
            (1e16 + 2.0, "10000000000000002"),
            (12345678.9, "12345678.9"),
            (-1.5, "-1.5"),
            // A tie between two shortest candidates: PHP takes the even last digit.
            (27788389721566.5625, "27788389721566.562"),
        ];
        for &(value, php) in cases {
            assert_eq!(php_double(value), php, "{value:e}");
        }
    }

    #[test]
    fn tokens_are_classified_by_their_text() {
        for double in ["1.0", "1e2", "1E+2", "-0.0", "0.5e-3"] {
            assert!(is_double_token(double), "{double}");
        }
        for integer in ["0", "-0", "9527563927532953", "18446744073709551615123"] {
            assert!(!is_double_token(integer), "{integer}");
        }
    }

    #[test]
    fn tokens_beyond_a_double_are_refused_and_tiny_ones_become_zero() {
        let mut out = String::new();
        assert!(write_token(&mut out, "1e400").is_err());
        assert!(write_token(&mut out, "-1.5E309").is_err());
        write_token(&mut out, "1e-400").unwrap();
        assert_eq!(out, "0");
    }
}
