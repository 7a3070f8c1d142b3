//! The php binding's generated files (written by the php binding's maintainer).

use crate::Generated;

pub fn files() -> Vec<Generated> {
    Vec::new()
}
