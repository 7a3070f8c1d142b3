//! Bearer tokens: made once by `mikrobill-gateway token new`, stored in the config only as their
//! SHA-256, looked up by hashing what the client presents and comparing it with every stored hash
//! in constant time, each with its scope and its rate limit.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;

use crate::config::TokenSpec;
use crate::scope::Scope;

/// Every token starts with this, so that a leaked one is easy to recognise (secret scanners).
pub const PREFIX: &str = "mbg_";

pub struct Token {
    pub name: String,
    hash: [u8; 32],
    pub scope: Scope,
    pub read_only: bool,
    rate: (u32, u32),
    limiter: Arc<DefaultDirectRateLimiter>,
}

impl Token {
    /// `Err(wait)` when the token has used up its rate for now.
    pub fn take_rate(&self) -> Result<(), Duration> {
        self.limiter
            .check()
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

#[derive(Default)]
pub struct TokenSet {
    tokens: Vec<Arc<Token>>,
}

impl TokenSet {
    /// The tokens of a config. A token whose name, hash and rate are unchanged since `previous`
    /// keeps its limiter, so a reload neither refills nor empties anyone's allowance.
    pub fn build(specs: &[TokenSpec], previous: Option<&TokenSet>) -> Result<TokenSet, String> {
        let mut tokens = Vec::with_capacity(specs.len());
        for spec in specs {
            let hash = parse_hash(&spec.sha256)
                .ok_or_else(|| format!("token {:?}: sha256 must be 64 hex digits", spec.name))?;
            let scope =
                Scope::parse(&spec.paths).map_err(|e| format!("token {:?}: {e}", spec.name))?;
            let rate = (
                spec.rate_per_second,
                spec.burst.unwrap_or(spec.rate_per_second),
            );
            let kept = previous.and_then(|p| {
                p.tokens
                    .iter()
                    .find(|t| t.name == spec.name && t.hash == hash && t.rate == rate)
            });
            let limiter = match kept {
                Some(t) => Arc::clone(&t.limiter),
                None => Arc::new(limiter(rate)?),
            };
            tokens.push(Arc::new(Token {
                name: spec.name.clone(),
                hash,
                scope,
                read_only: spec.read_only,
                rate,
                limiter,
            }));
        }
        Ok(TokenSet { tokens })
    }

    /// The token whose hash is the presented text's hash. Every stored hash is compared, each in
    /// constant time, so the time taken says nothing about how close a guess came.
    pub fn authenticate(&self, presented: &str) -> Option<Arc<Token>> {
        let hash = sha256(presented.as_bytes());
        let mut found = None;
        for token in &self.tokens {
            if bool::from(token.hash.ct_eq(&hash)) {
                found = Some(Arc::clone(token));
            }
        }
        found
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

fn limiter((per_second, burst): (u32, u32)) -> Result<DefaultDirectRateLimiter, String> {
    let per_second = NonZeroU32::new(per_second).ok_or("rate_per_second must be positive")?;
    let burst = NonZeroU32::new(burst).ok_or("burst must be positive")?;
    Ok(RateLimiter::direct(
        Quota::per_second(per_second).allow_burst(burst),
    ))
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn parse_hash(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// A new token: the prefix and 32 bytes from the operating system's random source, in hex.
pub fn generate() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no random bytes from the system: {e}"))?;
    Ok(format!("{PREFIX}{}", hex(&bytes)))
}

/// The `[[token]]` block for a new token, as `token new` prints it.
pub fn config_block(name: &str, token: &str) -> String {
    format!(
        "[[token]]\n\
         name = {name}\n\
         sha256 = \"{hash}\"\n\
         # Narrow these to what the client needs, e.g. [\"API.GetClients\", \"API.Client.*.BillingInfo.Money\"].\n\
         paths = [\"*\"]\n\
         read_only = true\n\
         rate_per_second = 20\n\
         burst = 40\n",
        name = toml_string(name),
        hash = hex(&sha256(token.as_bytes())),
    )
}

fn toml_string(text: &str) -> String {
    // A TOML basic string has JSON's escapes for everything a name may hold.
    serde_json::to_string(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, token: &str, rate: u32) -> TokenSpec {
        TokenSpec {
            name: name.into(),
            sha256: hex(&sha256(token.as_bytes())),
            paths: vec!["*".into()],
            read_only: true,
            rate_per_second: rate,
            burst: Some(2),
        }
    }

    #[test]
    fn a_token_is_found_by_its_hash_only() {
        let set =
            TokenSet::build(&[spec("a", "mbg_one", 5), spec("b", "mbg_two", 5)], None).unwrap();
        assert_eq!(set.authenticate("mbg_two").unwrap().name, "b");
        assert!(set.authenticate("mbg_three").is_none());
        assert!(set.authenticate("").is_none());
        assert!(set.authenticate(&hex(&sha256(b"mbg_one"))).is_none());
    }

    #[test]
    fn generated_tokens_differ_and_their_block_parses() {
        let (a, b) = (generate().unwrap(), generate().unwrap());
        assert_ne!(a, b);
        assert!(a.starts_with(PREFIX) && a.len() == PREFIX.len() + 64);
        let block = config_block("bot \"x\"", &a);
        let parsed: crate::config::TokenSpec = toml::from_str::<toml::Table>(&block).unwrap()
            ["token"]
            .as_array()
            .unwrap()[0]
            .clone()
            .try_into()
            .unwrap();
        assert_eq!(parsed.name, "bot \"x\"");
        let set = TokenSet::build(&[parsed], None).unwrap();
        assert!(set.authenticate(&a).is_some());
        assert!(!block.contains(&a));
    }

    #[test]
    fn the_burst_is_enforced_and_kept_across_a_rebuild() {
        let specs = [spec("a", "mbg_one", 1)];
        let set = TokenSet::build(&specs, None).unwrap();
        let t = set.authenticate("mbg_one").unwrap();
        assert!(t.take_rate().is_ok());
        assert!(t.take_rate().is_ok());
        assert!(t.take_rate().is_err());
        let again = TokenSet::build(&specs, Some(&set)).unwrap();
        assert!(again.authenticate("mbg_one").unwrap().take_rate().is_err());
        let changed = TokenSet::build(&[spec("a", "mbg_one", 3)], Some(&set)).unwrap();
        assert!(changed.authenticate("mbg_one").unwrap().take_rate().is_ok());
    }
}
