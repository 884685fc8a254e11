fn main() {
    std::process::exit(pycache::cli::run());
}
