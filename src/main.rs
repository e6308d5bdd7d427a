//! ccaf-housekeeping: the action's binary. The commands arrive with the engine; for now the binary
//! only identifies itself.

use clap::Parser;

#[derive(Parser, Debug)]
#[command(name = "ccaf-housekeeping", version, about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
