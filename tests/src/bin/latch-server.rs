//! The `latch` command, built inside this package so the suites can run it as separate
//! replica processes (`CARGO_BIN_EXE_latch-server`).

fn main() -> std::process::ExitCode {
    latch_api::cli::main()
}
