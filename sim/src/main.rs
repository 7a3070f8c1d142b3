//! The MikroBILL core simulator; everything lives in the `mikrobill_sim` library.

fn main() {
    std::process::exit(mikrobill_sim::main_with_args(std::env::args().skip(1)));
}
