//! The simulator's test-double flags, parsed here so the main option parser needs one hook.

use std::path::PathBuf;

use super::replay::Unmatched;
use crate::options::UsageError;

#[derive(Debug, Clone)]
pub struct Flags {
    pub admin: Option<String>,
    pub admin_allow_remote: bool,
    pub replay: Option<PathBuf>,
    pub replay_unmatched: Unmatched,
}

impl Default for Flags {
    fn default() -> Flags {
        Flags {
            admin: None,
            admin_allow_remote: false,
            replay: None,
            replay_unmatched: Unmatched::Tree,
        }
    }
}

impl Flags {
    pub fn takes(flag: &str) -> bool {
        matches!(
            flag,
            "--admin" | "--admin-allow-remote" | "--replay" | "--replay-unmatched"
        )
    }

    pub fn set(
        &mut self,
        flag: &str,
        value: impl FnOnce() -> Result<String, UsageError>,
    ) -> Result<(), UsageError> {
        match flag {
            "--admin" => self.admin = Some(value()?),
            "--admin-allow-remote" => self.admin_allow_remote = true,
            "--replay" => self.replay = Some(value()?.into()),
            "--replay-unmatched" => {
                self.replay_unmatched = Unmatched::parse(&value()?).map_err(UsageError::BadValue)?
            }
            _ => return Err(UsageError::UnknownArgument(flag.to_string())),
        }
        Ok(())
    }
}
