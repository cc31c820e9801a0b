//! `copiloot schema input|output`: the published JSON Schemas of the data contract.

use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct SchemaArgs {
    /// Which schema: the input conversation or the output Analysis.
    #[arg(value_enum)]
    pub which: Which,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Which {
    Input,
    Output,
}

pub fn run(args: &SchemaArgs) -> anyhow::Result<ExitCode> {
    let schema = match args.which {
        Which::Input => copiloot::conversation::input_schema(),
        Which::Output => copiloot::analysis::output_schema(),
    };
    println!("{}", serde_json::to_string_pretty(&schema)?);
    Ok(ExitCode::SUCCESS)
}
