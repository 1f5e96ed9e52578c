//! `dspgd`: the command-line front of the dspgd library. See `dspgd --help`
//! and the `cli` module.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
