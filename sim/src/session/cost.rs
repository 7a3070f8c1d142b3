//! What a request is expected to cost once parsed, counted against the memory budget before it
//! is parsed: the frame's bytes alone understate it, since `[{},{},...]` spends three bytes of
//! the frame on a value that takes far more once built, and evaluating it builds more again
//! (paths, replies). One pass over the text counts its values without building any.

use mikrobill::protocol::phpjson;

/// Bytes a request is expected to take per value once parsed and evaluated (the value itself,
/// its share of its container, what evaluating it builds). Measured on the shapes that cost most
/// per byte of text (`calibrate_the_cost_per_value` in sim/tests/limits.rs): up to 177 bytes per
/// counted value, for a list of one-key objects; with headroom for the allocator.
pub const PER_VALUE: usize = 256;

/// How many values (and object keys) the JSON text holds, counted by its structure outside
/// strings: each `[`, `{`, `,` and `:` starts one. Text that is not JSON is counted as well as it
/// can be; the parser then refuses it.
pub fn values(text: &[u8]) -> usize {
    1 + phpjson::outside_strings(text)
        .filter(|b| matches!(b, b'[' | b'{' | b',' | b':'))
        .count()
}

/// The expected cost of the request `text` beyond the frame that holds it: its strings, at most
/// as long as the text, and its values.
pub fn parsed(text: &[u8]) -> usize {
    values(text)
        .saturating_mul(PER_VALUE)
        .saturating_add(text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_counted_by_structure_outside_strings() {
        assert_eq!(values(br#"{"path":"A.B","value":null}"#), 5);
        assert_eq!(values(br#"[{},{},{}]"#), 7);
        // Commas, brackets and colons inside strings, escaped quotes included, are text.
        assert_eq!(values(br#""a,b:[{\",]""#), 1);
        assert_eq!(values(br#"{"k\\":[1,2]}"#), 5);
    }
}
