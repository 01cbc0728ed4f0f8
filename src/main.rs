//! The `supplyline` command line: parses arguments, loads config, calls into the library.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "supplyline",
    version,
    about = "Turns a donations mailbox into a triage queue"
)]
struct Cli {
    /// The config file.
    #[arg(long, global = true, default_value = "supplyline.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print what the rules find in one message.
    Extract {
        /// Print the JSON of the extraction contract.
        #[arg(long)]
        json: bool,
        /// Show, for each item and field, the text span and the rule that produced it.
        #[arg(long)]
        explain: bool,
        /// A rules folder to use instead of the built-in rules.
        #[arg(long)]
        rules: Option<PathBuf>,
        file: PathBuf,
    },
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Extract {
            json,
            explain,
            rules,
            file,
        } => extract(&file, rules.as_deref(), json, explain),
    }
}

fn extract(
    file: &std::path::Path,
    rules_dir: Option<&std::path::Path>,
    json: bool,
    explain: bool,
) -> anyhow::Result<()> {
    let rules = match rules_dir {
        Some(dir) => supplyline::rules::Rules::load_dir(dir)?,
        None => supplyline::rules::Rules::embedded()?,
    };
    let raw = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let msg =
        supplyline::mail::parse(&raw).with_context(|| format!("parsing {}", file.display()))?;
    let extraction = rules.extract(&msg);
    if json {
        println!("{}", serde_json::to_string_pretty(&extraction)?);
    } else {
        print!("{}", supplyline::rules::explain(&msg, &extraction, explain));
    }
    Ok(())
}
