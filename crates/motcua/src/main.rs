//! The `motcua` command: run a node, migrate, load the demo, manage the catalogue and the
//! calendar, check the audit chain.

mod cli;

/// mimalloc rather than the C library's allocator: the server's memory is allocated on the
/// runtime's threads and the database drivers' threads and freed on others, and glibc's arenas
/// spent a sixth of the processor on that under load (see `docs/BENCHMARKS.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
