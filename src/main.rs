#![forbid(unsafe_code)]

fn main() {
    std::process::exit(pycache::cli::run());
}
