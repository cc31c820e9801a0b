//! `copiloot train intent|sentiment`: fit a logistic-regression head (for sentiment optionally one with a
//! hidden layer, `--hidden`) on frozen embeddings of labelled CSV/JSONL files and save it
//! (`head.safetensors` + `head.json`); `train intent --fine-tune` also tunes the encoder's top layers with
//! the head.

use crate::common::ModelArgs;
use crate::labelled::{check_known_labels, embed_examples, read_all, DataArgs};
use anyhow::Context;
use copiloot::tasks::intent::Taxonomy;
use copiloot::tasks::sentiment;
use copiloot::tasks::{EncoderBranch, FeatureSpec, LayerFeatures, TextEmbedder};
use copiloot::training::finetune::BRANCH_FILE;
use copiloot::training::head::mlp::MlpConfig;
use copiloot::training::head::BranchMeta;
use copiloot::training::head::{select_l2, ClassWeight, LinearHead, TrainConfig, L2_GRID};
use copiloot::training::labelled::{
    file_language, language_weights, read_labelled, Columns, LabelledExample,
};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// The data and the logistic-regression settings of every head (`train intent`, `train sentiment`).
#[derive(clap::Args, Debug)]
pub struct HeadArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Output folder for the head.
    #[arg(long)]
    pub out: PathBuf,
    /// L2 regularisation strength (default 1/number of examples, like sklearn's C=1).
    #[arg(long)]
    pub l2: Option<f64>,
    /// Pick the L2 strength by k-fold cross-validation on the training data (e.g. `--cv 5`).
    #[arg(long, conflicts_with = "l2", value_parser = clap::value_parser!(u16).range(2..=20))]
    pub cv: Option<u16>,
    /// Weight classes so each counts equally (`balanced`) or every example the same (`none`).
    #[arg(long, value_enum, default_value = "balanced")]
    pub class_weight: ClassWeightArg,
    /// Maximum L-BFGS iterations.
    #[arg(long, default_value_t = 500)]
    pub max_iter: usize,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ClassWeightArg {
    Balanced,
    None,
}

/// `copiloot train intent`.
#[derive(clap::Args, Debug)]
pub struct TrainIntentArgs {
    #[command(flatten)]
    pub head: HeadArgs,
    /// Intent only: refuse labels that are not intent ids of this taxonomy file.
    #[arg(long)]
    pub taxonomy: Option<PathBuf>,
    #[command(flatten)]
    pub fine_tune: FineTuneArgs,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// `copiloot train intent --fine-tune …`.
#[derive(clap::Args, Debug)]
pub struct FineTuneArgs {
    /// Intent only: also fine-tune the encoder's layers with the head (cross-entropy, AdamW); `--out`
    /// then holds the tuned encoder and its head, loaded as one classifier by `--model DIR`.
    #[arg(long)]
    pub fine_tune: bool,
    /// Fine-tuning: passes over the training data.
    #[arg(long, default_value_t = 2, requires = "fine_tune")]
    pub epochs: usize,
    /// Fine-tuning: AdamW peak learning rate.
    #[arg(long, default_value_t = 1e-4, requires = "fine_tune")]
    pub lr: f64,
    /// Fine-tuning: how many top transformer layers are trained (the lower ones stay frozen and run once
    /// per text: fewer is faster). Default: all of them.
    #[arg(long, requires = "fine_tune")]
    pub layers: Option<usize>,
    /// Fine-tuning: examples per optimiser step.
    #[arg(long, default_value_t = 32, requires = "fine_tune", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub train_batch_size: u32,
    /// Fine-tuning: dropout probability in the trained layers (0 turns it off).
    #[arg(long, default_value_t = 0.1, requires = "fine_tune")]
    pub dropout: f32,
    /// Fine-tuning: share of the steps with a linear learning-rate warm-up (then linear decay to 0).
    #[arg(long, default_value_t = 0.1, requires = "fine_tune")]
    pub warmup: f64,
    /// Fine-tuning: label smoothing of the cross-entropy (0 = none).
    #[arg(long, default_value_t = 0.1, requires = "fine_tune")]
    pub label_smoothing: f64,
    /// Fine-tuning: layer-wise learning-rate decay; each layer trains at this factor times the rate of the
    /// layer above it (the top layer and the head at `--lr`). 1 = the same rate everywhere.
    #[arg(long, default_value_t = 1.0, requires = "fine_tune")]
    pub layer_decay: f64,
    /// Seed of the random choices: the held-out split (churn) or the example order (fine-tuning).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// `copiloot train sentiment`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("trained").args(["hidden", "branch"])))]
pub struct TrainSentimentArgs {
    #[command(flatten)]
    pub head: HeadArgs,
    /// Read these encoder layers instead of the sentence embedding: each one's hidden states mean-pooled
    /// and L2-normalised, concatenated (e.g. `--layers 6,9,12`; 0 = the embedding output). They come
    /// from the same encoder pass as the turn embeddings, so `analyze` stays one pass.
    #[arg(long, value_delimiter = ',')]
    pub layers: Vec<usize>,
    /// Fine-tune a copy of the encoder's top N layers with the head: a sentiment branch. The lower layers
    /// stay shared with the other tasks (their embeddings do not change); each turn costs N more layers.
    /// `--out` then holds `branch.safetensors` (f16) next to the head. Trained with AdamW, linear warm-up
    /// and decay, dropout and label smoothing 0.1; the languages weigh the same in the loss too. With
    /// `--layers`, the head is refitted on those frozen layers' features followed by the branch's output.
    #[arg(long, conflicts_with_all = ["hidden", "temperature"])]
    pub branch: Option<usize>,
    /// Refit the head on a branch trained before (the `branch.safetensors` of a `--branch` run), after the
    /// features of `--layers`: other data, L2 or layers without fine-tuning again (`--cache` keeps the
    /// features). The file is copied into `--out`.
    #[arg(long, conflicts_with = "branch")]
    pub branch_file: Option<PathBuf>,
    #[command(flatten)]
    pub mlp: MlpArgs,
    /// Divide the head's logits by this before the softmax (calibration; below 1 makes the scores of
    /// clear cases more extreme, the labels do not change). Stored in `head.json`.
    #[arg(long)]
    pub temperature: Option<f32>,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// `train sentiment --hidden N …`: a head with one hidden ReLU layer instead of logistic regression; the
/// optimiser settings also serve `--branch N`, with their own defaults.
#[derive(clap::Args, Debug)]
pub struct MlpArgs {
    /// Train a head with a hidden layer of this width (AdamW, dropout) instead of logistic regression.
    #[arg(long, conflicts_with_all = ["l2", "cv"])]
    pub hidden: Option<usize>,
    /// MLP head or branch: passes over the training data [default: 20 for an MLP, 2 for a branch].
    #[arg(long, requires = "trained")]
    pub epochs: Option<usize>,
    /// MLP head or branch: AdamW peak learning rate, decaying linearly to 0 [default: 1e-3 for an MLP,
    /// 1e-4 for a branch].
    #[arg(long, requires = "trained")]
    pub lr: Option<f64>,
    /// MLP head: AdamW weight decay.
    #[arg(long, default_value_t = 0.01, requires = "hidden")]
    pub weight_decay: f64,
    /// MLP head or branch: dropout while training [default: 0.3 on an MLP's hidden layer, 0.1 in a branch].
    #[arg(long, requires = "trained")]
    pub dropout: Option<f32>,
    /// MLP head or branch: examples per optimiser step [default: 64 for an MLP, 32 for a branch].
    #[arg(long, requires = "trained", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub train_batch_size: Option<u32>,
    /// MLP head or branch: seed of the initial weights, the example order and the dropout masks
    /// [default: 19 for an MLP, 42 for a branch].
    #[arg(long, requires = "trained")]
    pub seed: Option<u64>,
    /// MLP head: train this many MLPs (seeds `--seed`, `--seed`+1, …) and average their logits; the
    /// saved head is one MLP `members × hidden` wide.
    #[arg(long, default_value_t = 1, requires = "hidden")]
    pub members: usize,
}

impl MlpArgs {
    fn config(&self) -> Option<MlpConfig> {
        self.hidden.map(|hidden| MlpConfig {
            hidden,
            epochs: self.epochs.unwrap_or(20),
            lr: self.lr.unwrap_or(1e-3),
            weight_decay: self.weight_decay,
            dropout: self.dropout.unwrap_or(0.3),
            batch_size: self.train_batch_size.map_or(64, |b| b as usize),
            seed: self.seed.unwrap_or(19),
            members: self.members,
        })
    }
}

/// `copiloot train intent`: a head (or with `--fine-tune` an encoder and head) for intent ids.
pub fn run_intent(args: &TrainIntentArgs) -> anyhow::Result<ExitCode> {
    let examples = read_all(&args.head.data)?;
    let labels: Vec<String> = examples.iter().map(|e| e.label.clone()).collect();
    if let Some(path) = &args.taxonomy {
        check_known_labels(&labels, &Taxonomy::from_path(path)?.ids(), path)?;
    }
    copiloot::training::head::check_labels(&labels)?;
    let copilot = args.model.copilot()?;
    if args.fine_tune.fine_tune {
        return fine_tune(args, copilot.encoder(), &examples, &labels);
    }
    train_head("intent", &args.head, copilot.encoder(), &examples, &labels, None, HeadChoice::default())
}

/// `copiloot train sentiment`: a head for negative/neutral/positive (labels normalised first). Each file
/// must be in one language; the languages weigh the same in total, however many examples each brings.
pub fn run_sentiment(args: &TrainSentimentArgs) -> anyhow::Result<ExitCode> {
    let columns = Columns { text: args.head.data.text_col.clone(), label: args.head.data.label_col.clone() };
    let mut examples = Vec::new();
    let mut languages = Vec::new();
    for path in &args.head.data.data {
        let file = read_labelled(path, &columns)?;
        let labels: Vec<String> = file.iter().map(|e| e.label.clone()).collect();
        sentiment::normalize_labels(&labels).with_context(|| format!("in {}", path.display()))?;
        let language = file_language(path, &file)?;
        eprintln!(
            "  {}: {} examples, language {}",
            path.display(),
            file.len(),
            language.as_deref().unwrap_or("?")
        );
        languages.extend(std::iter::repeat_n(language, file.len()));
        examples.extend(file);
    }
    let labels: Vec<String> = examples.iter().map(|e| e.label.clone()).collect();
    let labels = sentiment::normalize_labels(&labels)?;
    copiloot::training::head::check_labels(&labels)?;
    let weights = language_weights(&languages);
    let copilot = args.model.copilot()?;
    let encoder = copilot.encoder();
    if let Some(n) = args.branch {
        return fine_tune_branch(args, n, encoder, &examples, &labels, weights);
    }
    let layers = (!args.layers.is_empty()).then_some(args.layers.as_slice());
    let branch = match &args.branch_file {
        Some(path) => Some((path.as_path(), Arc::new(encoder.load_branch(path)?))),
        None => None,
    };
    let spec = FeatureSpec { layers: args.layers.clone(), branch: branch.as_ref().map(|(_, b)| b.clone()) };
    let features = (!spec.is_empty()).then(|| LayerFeatures::with_spec(encoder, spec)).transpose()?;
    let reads: &dyn TextEmbedder = match &features {
        Some(f) => f,
        None => encoder,
    };
    let mlp = args.mlp.config();
    let branch = branch.as_ref().map(|(path, b)| (*path, &**b));
    let head = HeadChoice { layers, branch, mlp: mlp.as_ref(), temperature: args.temperature };
    train_head("sentiment", &args.head, reads, &examples, &labels, Some(weights), head)
}

/// Embeds the examples (or takes the features of `layers`, which `encoder` then gives), fits the head (the
/// L2 strength by `--cv` when asked; `example_weights` multiply the class weights; with `mlp` a head with a
/// hidden layer) and saves it to `--out`.
fn train_head(
    task: &str,
    args: &HeadArgs,
    encoder: &dyn TextEmbedder,
    examples: &[LabelledExample],
    labels: &[String],
    example_weights: Option<Vec<f32>>,
    choice: HeadChoice<'_>,
) -> anyhow::Result<ExitCode> {
    let HeadChoice { layers, branch, mlp, temperature } = choice;
    let embeddings = embed_examples(encoder, examples, args.data.cache.as_deref())?;
    let mut config = head_config(args);
    config.example_weights = example_weights;
    let started = std::time::Instant::now();
    if let Some(folds) = args.cv {
        let (best, scores) = select_l2(&embeddings, labels, &config, L2_GRID, folds as usize)?;
        for (l2, acc) in &scores {
            eprintln!("  cv l2={l2:<8} accuracy {:.2} %", 100.0 * acc);
        }
        eprintln!("  picked l2={best} ({folds}-fold cross-validation on the training data)");
        config.l2 = Some(best);
    }
    let mut head = match mlp {
        Some(m) => LinearHead::train_mlp(task, encoder.model_id(), &embeddings, labels, &config, m)?,
        None => LinearHead::train(task, encoder.model_id(), &embeddings, labels, &config)?,
    };
    if let Some((_, b)) = branch {
        let (file, start_layer, layers) = (BRANCH_FILE.to_string(), b.start_layer(), b.layers());
        head.set_branch(BranchMeta { file, start_layer, layers })?;
    }
    if let Some(layers) = layers {
        head.set_layers(layers)?;
    }
    if let Some(t) = temperature {
        head.set_temperature(t)?;
    }
    let files: Vec<String> = args
        .data
        .data
        .iter()
        .map(|p| p.file_name().map_or_else(|| p.display().to_string(), |f| f.to_string_lossy().into()))
        .collect();
    let cv = match (args.cv, args.l2, mlp) {
        (_, _, Some(m)) => format!(
            " --hidden {} --epochs {} --lr {} --weight-decay {} --dropout {} --train-batch-size {} --seed {} \
             --members {}",
            m.hidden, m.epochs, m.lr, m.weight_decay, m.dropout, m.batch_size, m.seed, m.members
        ),
        (Some(k), _, None) => format!(" --cv {k}"),
        (None, Some(l2), None) => format!(" --l2 {l2}"),
        (None, None, None) => String::new(),
    };
    let mut layers = layers.map(|l| format!(" --layers {}", join(l))).unwrap_or_default();
    if let Some((path, _)) = branch {
        layers.push_str(&format!(" --branch-file {}", path.display()));
    }
    if let Some(t) = temperature {
        layers.push_str(&format!(" --temperature {t}"));
    }
    head.set_source(format!("copiloot train {task} --data {}{cv}{layers}", files.join(" --data ")));
    head.save(&args.out)?;
    if let Some((path, _)) = branch {
        let to = args.out.join(BRANCH_FILE);
        if std::fs::canonicalize(path).ok() != std::fs::canonicalize(&to).ok() {
            std::fs::copy(path, &to)
                .with_context(|| format!("copying {} to {}", path.display(), to.display()))?;
        }
    }
    let t = &head.meta().training;
    eprintln!(
        "trained a {task} head: {} labels, {} examples, {} iterations in {:.1}s, train accuracy {:.1}% → {}",
        head.labels().len(),
        t.examples,
        t.iterations,
        started.elapsed().as_secs_f64(),
        100.0 * t.train_accuracy,
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// What kind of head `train_head` fits beyond the plain linear one on the sentence embedding.
#[derive(Default, Clone, Copy)]
struct HeadChoice<'a> {
    /// Read these encoder layers' features.
    layers: Option<&'a [usize]>,
    /// Then the output of this branch (its file, copied next to the head).
    branch: Option<(&'a std::path::Path, &'a EncoderBranch)>,
    /// A hidden layer.
    mlp: Option<&'a MlpConfig>,
    /// Softmax temperature stored with the head.
    temperature: Option<f32>,
}

fn join(layers: &[usize]) -> String {
    layers.iter().map(usize::to_string).collect::<Vec<_>>().join(",")
}

/// The logistic-regression head's settings from the command line (plain training and fine-tuning alike).
fn head_config(args: &HeadArgs) -> TrainConfig {
    TrainConfig {
        l2: args.l2,
        class_weight: match args.class_weight {
            ClassWeightArg::Balanced => ClassWeight::Balanced,
            ClassWeightArg::None => ClassWeight::None,
        },
        max_iter: args.max_iter,
        ..TrainConfig::default()
    }
}

/// `train sentiment --branch N`: a copy of the encoder's top N layers fine-tuned with the head, saved
/// with it; the languages weigh the same in the loss and in the head's fit.
fn fine_tune_branch(
    args: &TrainSentimentArgs,
    layers: usize,
    encoder: &copiloot::models::Encoder,
    examples: &[LabelledExample],
    labels: &[String],
    weights: Vec<f32>,
) -> anyhow::Result<ExitCode> {
    use copiloot::training::finetune::{self, FineTuneConfig};
    let m = &args.mlp;
    let defaults = FineTuneConfig::default();
    let mut head = head_config(&args.head);
    head.example_weights = Some(weights.clone());
    let mut config = FineTuneConfig {
        layers: Some(layers),
        epochs: m.epochs.unwrap_or(defaults.epochs),
        lr: m.lr.unwrap_or(defaults.lr),
        batch_size: m.train_batch_size.map_or(defaults.batch_size, |b| b as usize),
        dropout: m.dropout.unwrap_or(defaults.dropout),
        seed: m.seed.unwrap_or(42),
        head,
        loss_weights: Some(weights),
        ..defaults
    };
    let files: Vec<String> = args.head.data.data.iter().map(|p| p.display().to_string()).collect();
    config.source = format!(
        "copiloot train sentiment --branch {layers}{} --epochs {} --lr {} --train-batch-size {} --dropout {} \
         --seed {}{} --data {} ({} examples)",
        if args.layers.is_empty() { String::new() } else { format!(" --layers {}", join(&args.layers)) },
        config.epochs,
        config.lr,
        config.batch_size,
        config.dropout,
        config.seed,
        args.head.l2.map(|l2| format!(" --l2 {l2}")).unwrap_or_default(),
        files.join(" --data "),
        examples.len()
    );
    let base = encoder_folder(&args.model)?;
    let started = std::time::Instant::now();
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let mut log = |line: &str| eprintln!("  [{:6.0}s] {line}", started.elapsed().as_secs_f64());
    let tuned = finetune::fine_tune_branch(
        &base,
        encoder,
        "sentiment",
        &args.layers,
        &texts,
        labels,
        &config,
        &args.head.out,
        &mut log,
    )?;
    eprintln!(
        "fine-tuned a sentiment branch of the top {layers} layers: {} examples in {:.0}s → {} (train accuracy: \
         frozen head {:.2} %, branch {:.2} %)",
        examples.len(),
        started.elapsed().as_secs_f64(),
        args.head.out.display(),
        100.0 * tuned.frozen_train_accuracy,
        100.0 * tuned.head.meta().training.train_accuracy
    );
    Ok(ExitCode::SUCCESS)
}

/// The folder of the encoder `--encoder` (or the catalog's default) names: fine-tuning reads its files.
fn encoder_folder(model: &ModelArgs) -> anyhow::Result<PathBuf> {
    Ok(match &model.encoder {
        Some(spec) => copiloot::models::ModelSource::parse(spec)?.resolve_encoder_folder()?,
        None => {
            let dir = model.models_dir.clone().unwrap_or_else(copiloot::models::default_models_dir);
            let catalog = copiloot::models::Catalog::load(&dir)?;
            dir.join(&catalog.roles.encoder)
        }
    })
}

/// `--fine-tune`: the encoder's top layers and the head, saved as one folder.
fn fine_tune(
    args: &TrainIntentArgs,
    encoder: &copiloot::models::Encoder,
    examples: &[LabelledExample],
    labels: &[String],
) -> anyhow::Result<ExitCode> {
    use copiloot::training::finetune::{self, FineTuneConfig};
    let ft = &args.fine_tune;
    let base = encoder_folder(&args.model)?;
    let layers = ft.layers.map_or_else(|| "all".to_string(), |n| format!("the top {n}"));
    let layers_flag = ft.layers.map(|n| format!(" --layers {n}")).unwrap_or_default();
    let source = format!(
        "copiloot train intent --fine-tune{layers_flag} --epochs {} --lr {} --train-batch-size {} --dropout {} \
         --warmup {} --label-smoothing {} --layer-decay {} --seed {} ({} examples)",
        ft.epochs,
        ft.lr,
        ft.train_batch_size,
        ft.dropout,
        ft.warmup,
        ft.label_smoothing,
        ft.layer_decay,
        ft.seed,
        examples.len()
    );
    let config = FineTuneConfig {
        layers: ft.layers,
        epochs: ft.epochs,
        lr: ft.lr,
        seed: ft.seed,
        batch_size: ft.train_batch_size as usize,
        dropout: ft.dropout,
        warmup: ft.warmup,
        label_smoothing: ft.label_smoothing,
        layer_decay: ft.layer_decay,
        head: head_config(&args.head),
        loss_weights: None,
        source,
    };
    let started = std::time::Instant::now();
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let mut log = |line: &str| eprintln!("  [{:6.0}s] {line}", started.elapsed().as_secs_f64());
    let tuned = finetune::fine_tune(&base, encoder, &texts, labels, &config, &args.head.out, &mut log)?;
    eprintln!(
        "fine-tuned {layers} layers and the head: {} labels, {} examples in {:.0}s → {} \
         (train accuracy: frozen head {:.2} %, tuned {:.2} %)",
        tuned.head.labels().len(),
        examples.len(),
        started.elapsed().as_secs_f64(),
        args.head.out.display(),
        100.0 * tuned.frozen_train_accuracy,
        100.0 * tuned.head.meta().training.train_accuracy
    );
    Ok(ExitCode::SUCCESS)
}
