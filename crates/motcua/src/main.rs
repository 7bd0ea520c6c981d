//! The `motcua` command: run a node, migrate, load the demo, manage the catalogue and the
//! calendar, check the audit chain.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
