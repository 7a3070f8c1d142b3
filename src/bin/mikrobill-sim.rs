//! The MikroBILL core simulator; everything lives in `mikrobill::sim`.

fn main() {
    std::process::exit(mikrobill::sim::main_with_args(std::env::args().skip(1)));
}
