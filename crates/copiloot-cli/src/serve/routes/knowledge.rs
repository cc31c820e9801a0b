//! `POST /v1/knowledge/search`: the knowledge base of `serve --kb` asked directly, with one question or
//! the conversation so far, for tools that want suggestions without an analysis. 404
//! `no_knowledge_base` on a server without `--kb`.

use crate::serve::bodies::{JsonBody, KnowledgeResults, KnowledgeSearchBody};
use crate::serve::error::{errors, ApiError};
use crate::serve::state::Shared;
use aide::axum::routing::post_with;
use aide::axum::ApiRouter;
use aide::transform::TransformOperation;
use axum::extract::State;
use axum::Json;
use copiloot::tasks::knowledge::search_with_intents;

pub fn routes() -> ApiRouter<Shared> {
    ApiRouter::new().api_route("/v1/knowledge/search", post_with(search, search_docs))
}

fn search_docs(op: TransformOperation<'_>) -> TransformOperation<'_> {
    let op =
        op.summary("Search the knowledge base: the article passages that answer a question").description(
            "`{\"text\": question}` or `{\"turns\": [{speaker, text}, …]}` (the last customer turn is the \
         question, the turns before it say what it is about; the server's intent model labels the customer \
         turns when the articles are tagged with intents), optionally with `top_k`, `min_score` and \
         `retriever` (the server's `--top-k`, `--min-score`, `--retriever` otherwise). Answers the best \
         passage of each fitting article, best first, with its best sentence highlighted (byte offsets \
         into the passage); an empty list when nothing scores above `min_score`. 404 `no_knowledge_base` \
         when the server was started without `--kb`.",
        );
    errors(op, &[400, 401, 404, 413, 429, 504])
}

async fn search(
    State(state): State<Shared>,
    body: JsonBody<KnowledgeSearchBody>,
) -> Result<Json<KnowledgeResults>, ApiError> {
    let kb = state.copilot.knowledge().cloned().ok_or_else(ApiError::no_knowledge_base)?;
    let (query, options) = body
        .parse(|e| {
            format!(
                "expected {{\"text\": …}} or {{\"turns\": [{{speaker, text}}, …]}} with optional top_k, \
                 min_score, retriever: {e}"
            )
        })?
        .into_query(state.search)?;
    let s = state.clone();
    let suggestions = state
        .jobs
        .run(move |_| {
            let intents = s.copilot.intent().map(|t| &t.model);
            search_with_intents(&kb, s.copilot.encoder(), &query, intents, &options)
        })
        .await??;
    Ok(Json(KnowledgeResults { suggestions }))
}
