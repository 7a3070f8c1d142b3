//! The process's descriptor limit, which the connection defaults are derived from: a default
//! that does not fit the limit turns a crowd of idle peers into failed accepts (EMFILE) for
//! honest clients, reported to them as a missing auth reply.

/// Descriptors kept back from connections: standard streams, the listeners, the state and trace
/// files, and the control API's connections.
pub const RESERVED: u64 = 64 + crate::double::admin::MAX_CONNECTIONS as u64;

/// Each API connection holds two descriptors: its socket and the clone that the admission
/// watcher keeps while it authenticates.
pub const PER_CONNECTION: u64 = 2;

/// The soft limit on open descriptors, when the platform has one.
#[cfg(unix)]
pub fn limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit for getrlimit to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0
        || limit.rlim_cur == libc::RLIM_INFINITY
    {
        return None;
    }
    Some(limit.rlim_cur)
}

#[cfg(windows)]
pub fn limit() -> Option<u64> {
    None
}

/// `--max-connections` when not given: `preferred`, or what fits the descriptor limit `limit`
/// when that is less, with the sentence that says so at start-up.
pub fn default_connections(preferred: usize, limit: Option<u64>) -> (usize, Option<String>) {
    let Some(limit) = limit else {
        return (preferred, None);
    };
    let fits = (limit.saturating_sub(RESERVED) / PER_CONNECTION).max(1);
    if fits >= preferred as u64 {
        return (preferred, None);
    }
    let note = format!(
        "--max-connections defaults to {fits}, not {preferred}: the descriptor limit is {limit} \
         (ulimit -n), each connection takes {PER_CONNECTION} and {RESERVED} are kept for files \
         and the control API; raise the limit or give --max-connections"
    );
    (fits as usize, Some(note))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_fits_the_limit() {
        assert_eq!(default_connections(1024, None), (1024, None));
        assert_eq!(default_connections(1024, Some(1_048_576)), (1024, None));
        let (n, note) = default_connections(1024, Some(1024));
        assert_eq!(n as u64, (1024 - RESERVED) / 2);
        assert!(note.unwrap().contains("descriptor limit is 1024"));
        assert_eq!(default_connections(1024, Some(10)).0, 1);
    }
}
