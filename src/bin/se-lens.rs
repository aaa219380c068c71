//! `se-lens`: the native command-line tool.

use std::process::ExitCode;

use se_lens::engine::{run_probe, BackendPreference};

const USAGE: &str = "usage: se-lens probe [--backend auto|gpu|cpu]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["probe"] => probe(BackendPreference::Auto),
        ["probe", "--backend", choice] => probe(BackendPreference::parse(choice)),
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn probe(preference: BackendPreference) -> ExitCode {
    let report = pollster::block_on(run_probe(preference));
    println!(
        "backend: {} ({})",
        report.backend,
        report.adapter.as_deref().unwrap_or("no adapter")
    );
    if let Some(reason) = &report.fallback_reason {
        println!("fell back to the CPU: {reason}");
    }
    println!("max |gpu - cpu|: {:e}", report.max_abs_diff);
    ExitCode::SUCCESS
}
