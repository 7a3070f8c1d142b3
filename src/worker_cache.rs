//! Short strings that outlive a PHP request: php-fpm keeps a worker process, and so this
//! library, alive across requests while PHP frees every userland value at the end of each. The
//! PHP shim keeps the keys it read from `config.php` and `workparams` here, keyed by the config
//! file's path and modification time, so a persistent page does not read them again. Values may
//! be secrets: nothing here is ever printed, and the cache is bounded so a caller inventing
//! names cannot grow it without limit.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Entries kept; beyond it the first name in order is dropped (callers re-read on a miss).
pub const MAX_ENTRIES: usize = 256;
/// Longest name plus value accepted.
pub const MAX_BYTES: usize = 64 * 1024;

static CACHE: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());

fn cache() -> MutexGuard<'static, BTreeMap<String, String>> {
    crate::fork::protect_locks();
    CACHE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Holds the cache across a `fork()` (see `crate::fork`).
#[cfg(unix)]
pub(crate) fn hold() -> Box<dyn std::any::Any> {
    Box::new(CACHE.lock().unwrap_or_else(PoisonError::into_inner))
}

pub fn get(name: &str) -> Option<String> {
    cache().get(name).cloned()
}

/// Stores `value` under `name`, or forgets `name` when `value` is None. False when the pair is
/// too large to keep.
pub fn set(name: &str, value: Option<&str>) -> bool {
    let mut cache = cache();
    let Some(value) = value else {
        cache.remove(name);
        return true;
    };
    if name.len() + value.len() > MAX_BYTES {
        return false;
    }
    if !cache.contains_key(name) && cache.len() >= MAX_ENTRIES {
        cache.pop_first();
    }
    cache.insert(name.to_owned(), value.to_owned());
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_forget_and_bounds() {
        assert!(set("wc-test-a", Some("1")));
        assert_eq!(get("wc-test-a").as_deref(), Some("1"));
        assert!(set("wc-test-a", None));
        assert_eq!(get("wc-test-a"), None);
        assert!(!set("wc-test-big", Some(&"x".repeat(MAX_BYTES))));
        for i in 0..MAX_ENTRIES + 10 {
            assert!(set(&format!("wc-test-{i:04}"), Some("v")));
        }
        assert!(cache().len() <= MAX_ENTRIES);
    }
}
