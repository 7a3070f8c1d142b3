//! The hostile peer as a process, for the C test program. Prints `listening on ADDR` and serves
//! until killed.

use std::io::Write;

use mikrobill_testkit::hostile;

fn main() {
    let server = hostile::spawn(0);
    println!("listening on {}", server.addr);
    std::io::stdout().flush().expect("stdout");
    loop {
        std::thread::park();
    }
}
