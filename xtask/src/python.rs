//! The python binding's generated files (written by the python binding's maintainer).

use crate::Generated;

pub fn files() -> Vec<Generated> {
    Vec::new()
}
