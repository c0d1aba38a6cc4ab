use std::process::ExitCode;

fn main() -> ExitCode {
    asiaq::run(std::env::args_os())
}
