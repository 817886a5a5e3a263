fn main() -> std::process::ExitCode {
    rnnlab::cli::main()
}
