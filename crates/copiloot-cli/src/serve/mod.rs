//! `copiloot serve`: the HTTP API and the agent panel, on axum.
//!
//! Models are loaded once and shared; inference runs on blocking threads behind a bounded gate
//! (`--max-concurrency` running + `--queue` waiting, anything more gets 429 with `Retry-After`).
//! Loopback only unless an API key is set; CORS off unless an origin is given. Live sessions
//! (`/v1/live`) are held in memory, private to the key that opened them, and closed when idle. With
//! `--kb` the copilot suggests knowledge-base articles and `/v1/knowledge/search` answers questions.
//!
//! Modules, each using only the ones to its right (no cycles): `router` (the app) → `routes` (handlers
//! with their docs) → `openapi`, `state` → `sessions` → `bodies`, `jobs` → `error`, `metrics`.

mod bodies;
mod error;
mod jobs;
mod metrics;
mod openapi;
mod router;
mod routes;
mod sessions;
mod state;

use crate::common::ModelArgs;
use anyhow::Context;
use copiloot::KnowledgeBase;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to bind; anything other than loopback requires --api-key.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port (0 picks a free one; the bound address is printed on stdout).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Require `Authorization: Bearer KEY` on every /v1 route. Repeat the flag (or separate keys with
    /// commas, also in COPILOOT_API_KEY) to allow several keys; a live session belongs to the key that
    /// opened it.
    #[arg(long, env = "COPILOOT_API_KEY", hide_env_values = true, value_delimiter = ',')]
    pub api_key: Vec<String>,
    /// Allow this browser origin (e.g. the agent desktop's) to call the API; CORS is off without it.
    #[arg(long)]
    pub cors_origin: Option<String>,
    /// Analyses running at once (default: number of cores).
    #[arg(long)]
    pub max_concurrency: Option<usize>,
    /// Requests allowed to wait for a slot; more get 429.
    #[arg(long, default_value_t = 32)]
    pub queue: usize,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = 2 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Per-request time limit in seconds.
    #[arg(long, default_value_t = 60)]
    pub timeout_secs: u64,
    /// Live sessions open at once (`POST /v1/live`); more get 429.
    #[arg(long, default_value_t = 256)]
    pub max_sessions: usize,
    /// Turns per live session; more get 413.
    #[arg(long, default_value_t = 2000)]
    pub max_session_turns: usize,
    /// Characters per live turn; longer turns get 413 (as does a body over --max-body-bytes).
    #[arg(long, default_value_t = 20_000)]
    pub max_turn_chars: usize,
    /// A live session without a new turn for this many seconds is closed (its readers get `closed`).
    #[arg(long, default_value_t = 900)]
    pub session_idle_secs: u64,
    #[command(flatten)]
    pub model: ModelArgs,
    /// A local LLM that rewrites summary notes (`/v1/summarize/stream` streams its tokens).
    #[command(flatten)]
    pub generator: crate::common::GeneratorArgs,
    /// A knowledge base from `copiloot kb index` (built with the same encoder): analyses and live sessions
    /// suggest its articles (`knowledge` events), and `POST /v1/knowledge/search` searches it.
    #[arg(long)]
    pub kb: Option<PathBuf>,
    /// How many knowledge suggestions and how sure (with --kb).
    #[command(flatten)]
    pub search: crate::common::SearchFlags,
}

pub fn run(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let api_keys: Vec<String> =
        args.api_key.iter().map(|k| k.trim().to_string()).filter(|k| !k.is_empty()).collect();
    if !args.host.is_loopback() && api_keys.is_empty() {
        anyhow::bail!(
            "refusing to bind {} without an API key: set --api-key (or COPILOOT_API_KEY), or bind 127.0.0.1",
            args.host
        );
    }
    // The knowledge base first: a wrong path fails before the models are loaded.
    let kb = match &args.kb {
        Some(path) => {
            let kb = KnowledgeBase::load(path)
                .with_context(|| format!("cannot load the knowledge base --kb {}", path.display()))?;
            Some((path, Arc::new(kb)))
        }
        None => None,
    };
    let search = args.search.options();
    let mut copilot = args.generator.attach(args.model.copilot()?, args.model.models_dir.as_deref())?;
    if let Some((path, kb)) = kb {
        copilot = copilot
            .with_knowledge(kb, search)
            .with_context(|| format!("cannot use the knowledge base --kb {}", path.display()))?;
    }
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let metrics = Arc::new(metrics::Metrics::default());
    let jobs = jobs::Jobs::new(
        args.max_concurrency.unwrap_or(cores).max(1),
        args.queue,
        Duration::from_secs(args.timeout_secs.max(1)),
        metrics.clone(),
    );
    let sessions = sessions::Sessions::new(sessions::SessionLimits {
        max_sessions: args.max_sessions,
        max_turns: args.max_session_turns.max(1),
        max_turn_chars: args.max_turn_chars.max(1),
        idle: Duration::from_secs(args.session_idle_secs.max(1)),
    });
    let state = Arc::new(state::AppState { copilot, search, jobs, sessions, metrics });
    let options = router::Options {
        api_keys,
        cors_origin: args.cors_origin.clone(),
        max_body_bytes: args.max_body_bytes,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let app = router::router(state.clone(), &options)?;
        let reaper = state.clone();
        tokio::spawn(async move { reaper.sessions.reap_idle(&reaper.jobs).await });
        let addr = SocketAddr::new(args.host, args.port);
        let listener =
            tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot bind {addr}"))?;
        let local = listener.local_addr()?;
        // Tests and scripts read this line to find an ephemeral port.
        println!("copiloot serve listening on http://{local}");
        let stopping = async move {
            shutdown_signal().await;
            // Live event streams never end by themselves: end them, or the shutdown waits forever.
            state.sessions.shutdown();
        };
        axum::serve(listener, app).with_graceful_shutdown(stopping).await?;
        eprintln!("copiloot serve: stopped after finishing in-flight requests");
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
