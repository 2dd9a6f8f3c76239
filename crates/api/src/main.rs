fn main() -> std::process::ExitCode {
    latch_api::cli::main()
}
