//! The dotnet binding's generated files (written by the dotnet binding's maintainer).

use crate::Generated;

pub fn files() -> Vec<Generated> {
    Vec::new()
}
