//! One field of a conversation's analysis: `POST /v1/summarize` (the grounded summary) and
//! `POST /v1/churn` (the churn risk with its reasons). Same input as `/v1/analyze`.

use crate::serve::bodies::{AnalyzeQuery, ChurnField, ConversationBody, IdQuery, Sorted, SummaryField};
use crate::serve::error::{errors, ApiError};
use crate::serve::state::Shared;
use aide::axum::routing::post_with;
use aide::axum::ApiRouter;
use aide::transform::TransformOperation;
use axum::extract::State;
use copiloot::Analysis;

pub fn routes() -> ApiRouter<Shared> {
    ApiRouter::new()
        .api_route("/v1/summarize", post_with(summarize, summarize_docs))
        .api_route("/v1/churn", post_with(churn, churn_docs))
}

/// Analyse one conversation (JSON, or text/plain with `?id=`).
async fn analyse(state: &Shared, query: AnalyzeQuery, body: ConversationBody) -> Result<Analysis, ApiError> {
    let conversation = body.parse(query.id.as_deref())?;
    let s = state.clone();
    let analysis = state
        .jobs
        .run(move |_| {
            let analysis = s.copilot.analyze(&conversation);
            s.metrics.count_analysis();
            analysis
        })
        .await??;
    Ok(analysis)
}

fn summarize_docs(op: TransformOperation<'_>) -> TransformOperation<'_> {
    let op = op.summary("The grounded summary of one conversation (the `summary` field of the Analysis)");
    errors(op, &[400, 401, 413, 429, 504])
}

async fn summarize(
    State(state): State<Shared>,
    IdQuery(q): IdQuery,
    body: ConversationBody,
) -> Result<Sorted<SummaryField>, ApiError> {
    let a = analyse(&state, q, body).await?;
    Ok(Sorted(SummaryField {
        conversation_id: a.conversation_id,
        language: a.language,
        summary: a.summary,
        warnings: a.warnings,
    }))
}

fn churn_docs(op: TransformOperation<'_>) -> TransformOperation<'_> {
    let op =
        op.summary("The churn risk of one conversation with its reasons (the `churn` field of the Analysis)");
    errors(op, &[400, 401, 413, 429, 504])
}

async fn churn(
    State(state): State<Shared>,
    IdQuery(q): IdQuery,
    body: ConversationBody,
) -> Result<Sorted<ChurnField>, ApiError> {
    let a = analyse(&state, q, body).await?;
    Ok(Sorted(ChurnField {
        conversation_id: a.conversation_id,
        language: a.language,
        churn: a.churn,
        warnings: a.warnings,
    }))
}
