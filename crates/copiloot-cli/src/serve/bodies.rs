//! The typed request and response bodies of the HTTP API. Each type is both what a handler reads or
//! writes and, through its `JsonSchema` / aide `OperationInput` / `OperationOutput`, what
//! `/openapi.json` says about it.
//!
//! The request extractors here never reject: a body that cannot be read or parsed reaches the handler
//! as an [`ApiError`], so every refusal is the JSON error contract and is counted in `/metrics`.

use super::error::{ApiError, ErrorBody};
use aide::generate::GenContext;
use aide::openapi::{MediaType, Operation, RequestBody, Response, SchemaObject, StatusCode};
use aide::{OperationInput, OperationOutput};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use axum::Json;
use copiloot::conversation::{parse_json, parse_transcript, ParseOptions};
use copiloot::knowledge::{KnowledgeQuery, QueryTurn, Retriever, SearchOptions, Suggestion};
use copiloot::tasks::alerts::Alert;
use copiloot::tasks::churn::ChurnRisk;
use copiloot::tasks::intent::IntentPrediction;
use copiloot::tasks::sentiment::SentimentLabel;
use copiloot::tasks::summary::Summary;
use copiloot::{Analysis, Channel, Conversation, CustomerInfo, ErrorKind, LiveStart, Parties, Speaker};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use std::marker::PhantomData;

/// Texts per request: enough for a chat history, small enough to answer within the time limit.
pub const MAX_TEXTS: usize = 256;

// ---- requests ------------------------------------------------------------------------------------

/// The query of the routes that take one conversation.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct AnalyzeQuery {
    /// Conversation id for plain-text transcripts.
    pub id: Option<String>,
}

/// The `?id=` query; a query that does not parse gets axum's plain 400, as it always did, and that
/// refusal (made before the handler runs) is marked [`Uncounted`].
pub struct IdQuery(pub AnalyzeQuery);

/// Marks a response that no handler made, which `copiloot_requests_total` does not count.
#[derive(Clone, Copy)]
pub struct Uncounted;

impl<S: Send + Sync> FromRequestParts<S> for IdQuery {
    type Rejection = axum::response::Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<AnalyzeQuery>::from_request_parts(parts, state).await {
            Ok(Query(q)) => Ok(IdQuery(q)),
            Err(rejection) => {
                let mut resp = rejection.into_response();
                resp.extensions_mut().insert(Uncounted);
                Err(resp)
            }
        }
    }
}

impl OperationInput for IdQuery {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        Query::<AnalyzeQuery>::operation_input(ctx, operation);
    }
}

/// One conversation: JSON (`Conversation`), or a plain transcript when `Content-Type` is `text/plain`.
pub struct ConversationBody {
    is_text: bool,
    body: Result<Bytes, BytesRejection>,
}

impl ConversationBody {
    /// The conversation, with `id` for a plain transcript (`conversation` without one).
    pub fn parse(self, id: Option<&str>) -> Result<Conversation, ApiError> {
        let body = self.body?;
        let opts = ParseOptions { source: Some("request body".into()), ..ParseOptions::default() };
        let text = copiloot::conversation::decode_utf8(&body, &opts)?;
        Ok(if self.is_text {
            parse_transcript(id.unwrap_or("conversation"), text, &opts)?
        } else {
            parse_json(text, &opts)?
        })
    }
}

impl<S: Send + Sync> FromRequest<S> for ConversationBody {
    type Rejection = Infallible;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_text = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("text/plain"));
        Ok(Self { is_text, body: Bytes::from_request(req, state).await })
    }
}

impl OperationInput for ConversationBody {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        let conversation = ctx.schema.subschema_for::<Conversation>();
        let media = |json_schema| MediaType {
            schema: Some(SchemaObject { json_schema, example: None, external_docs: None }),
            ..Default::default()
        };
        let body = RequestBody {
            description: Some(
                "One conversation as JSON, or a plain transcript as `text/plain` (its id from `?id=`)".into(),
            ),
            content: [
                ("application/json".to_string(), media(conversation)),
                ("text/plain".to_string(), media(schemars::json_schema!({"type": "string"}))),
            ]
            .into_iter()
            .collect(),
            required: true,
            extensions: Default::default(),
        };
        aide::operation::set_body(ctx, operation, body);
    }
}

/// A JSON body of type `T`, parsed by the handler (so that its error is the API's `invalid_input`).
pub struct JsonBody<T> {
    body: Result<Bytes, BytesRejection>,
    _type: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> JsonBody<T> {
    /// The body as `T`; `invalid` words the 400 for a body that is not a `T`.
    pub fn parse(self, invalid: impl FnOnce(serde_json::Error) -> String) -> Result<T, ApiError> {
        let body = self.body?;
        serde_json::from_slice(&body).map_err(|e| ApiError::kind(ErrorKind::InvalidInput, invalid(e)))
    }

    /// As [`Self::parse`], but an empty (or all-whitespace) body is `T::default()`.
    pub fn parse_or_default(self, invalid: impl FnOnce(serde_json::Error) -> String) -> Result<T, ApiError>
    where
        T: Default,
    {
        match &self.body {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(T::default()),
            _ => self.parse(invalid),
        }
    }
}

impl<S: Send + Sync, T> FromRequest<S> for JsonBody<T> {
    type Rejection = Infallible;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self { body: Bytes::from_request(req, state).await, _type: PhantomData })
    }
}

impl<T: JsonSchema> OperationInput for JsonBody<T> {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        Json::<T>::operation_input(ctx, operation);
    }
}

/// One text or a list of texts (single messages, e.g. of a chat).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum TextsBody {
    One {
        text: String,
    },
    Many {
        #[schemars(length(min = 1, max = 256))]
        texts: Vec<String>,
    },
}

impl TextsBody {
    /// The texts, 1 to [`MAX_TEXTS`] of them.
    pub fn into_texts(self) -> Result<Vec<String>, ApiError> {
        let texts = match self {
            TextsBody::One { text } => vec![text],
            TextsBody::Many { texts } => texts,
        };
        if texts.is_empty() || texts.len() > MAX_TEXTS {
            return Err(ApiError::kind(
                ErrorKind::InvalidInput,
                format!("send 1 to {MAX_TEXTS} texts per request (got {})", texts.len()),
            ));
        }
        Ok(texts)
    }
}

/// A list of conversations, or `{"conversations": […]}`. Items are parsed one by one, so one bad
/// conversation is an error item of the answer instead of failing the whole batch.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum BatchBody {
    List(#[schemars(with = "Vec<Conversation>")] Vec<serde_json::Value>),
    Wrapped {
        #[schemars(with = "Vec<Conversation>")]
        conversations: Vec<serde_json::Value>,
    },
}

impl BatchBody {
    pub fn into_items(self) -> Vec<serde_json::Value> {
        match self {
            BatchBody::List(v) | BatchBody::Wrapped { conversations: v } => v,
        }
    }
}

/// `POST /v1/live`: a `LiveStart` whose `id` may be left out. An empty body starts a session with a
/// made-up id and the defaults.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct LiveStartBody {
    /// The session's id, also the conversation id of its analysis (unique among this API key's open
    /// sessions); a random `live-…` id when absent.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub channel: Channel,
    /// ISO 639-1 code when known; detected from the turns so far otherwise.
    #[serde(default)]
    pub language: Option<String>,
    /// The customer record, for churn (tenure, contract end, plan, …).
    #[serde(default)]
    pub customer: CustomerInfo,
    /// What the note calls the customer and the agent, when not the note style's nouns.
    #[serde(default)]
    pub parties: Parties,
}

impl LiveStartBody {
    /// The core's `LiveStart`, with the id from `made_up` when none was given.
    pub fn into_start(
        self,
        made_up: impl FnOnce() -> Result<String, ApiError>,
    ) -> Result<LiveStart, ApiError> {
        let id = match self.id.filter(|id| !id.trim().is_empty()) {
            Some(id) => id,
            None => made_up()?,
        };
        Ok(LiveStart {
            id,
            channel: self.channel,
            language: self.language,
            customer: self.customer,
            parties: self.parties,
        })
    }
}

/// Largest `top_k` of `POST /v1/knowledge/search`.
pub const MAX_TOP_K: usize = 20;

/// `POST /v1/knowledge/search`: one question (`text`) or the conversation so far (`turns`, whose last
/// customer turn is the question and whose earlier turns say what it is about), and optionally other
/// settings than the server's `--top-k`, `--min-score` and `--retriever`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KnowledgeSearchBody {
    /// The customer's question (instead of `turns`).
    #[serde(default)]
    pub text: Option<String>,
    /// The conversation so far, oldest first (instead of `text`), up to 256 turns.
    #[serde(default)]
    #[schemars(length(min = 1, max = 256))]
    pub turns: Option<Vec<SearchTurn>>,
    /// Articles to suggest at most (1 to 20).
    #[serde(default)]
    #[schemars(range(min = 1, max = 20))]
    pub top_k: Option<usize>,
    /// Leave out suggestions whose fused score is below this.
    #[serde(default)]
    pub min_score: Option<f32>,
    #[serde(default)]
    pub retriever: Option<Retriever>,
}

/// One turn of a knowledge search.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchTurn {
    pub speaker: Speaker,
    pub text: String,
}

impl KnowledgeSearchBody {
    /// The core's query and options (`defaults` for what the body leaves out); 400 for a body with
    /// neither or both of `text` and `turns`, a setting out of range or no customer turn to answer, 413
    /// for more than [`MAX_TEXTS`] turns.
    pub fn into_query(self, defaults: SearchOptions) -> Result<(KnowledgeQuery, SearchOptions), ApiError> {
        let invalid = |m: String| ApiError::kind(ErrorKind::InvalidInput, m);
        let query = match (self.text, self.turns) {
            (Some(text), None) => KnowledgeQuery::text(text),
            (None, Some(turns)) if turns.len() > MAX_TEXTS => {
                return Err(ApiError::kind(
                    ErrorKind::InputTooLarge,
                    format!("send at most {MAX_TEXTS} turns (got {})", turns.len()),
                ))
            }
            (None, Some(turns)) => KnowledgeQuery {
                turns: turns
                    .into_iter()
                    .map(|t| QueryTurn::new(t.speaker == Speaker::Customer, t.text))
                    .collect(),
            },
            _ => {
                return Err(invalid("send either {\"text\": …} or {\"turns\": [{speaker, text}, …]}".into()))
            }
        };
        query.question()?;
        let top_k = self.top_k.unwrap_or(defaults.top_k);
        if top_k == 0 || top_k > MAX_TOP_K {
            return Err(invalid(format!("top_k must be 1 to {MAX_TOP_K} (got {top_k})")));
        }
        let min_score = self.min_score.unwrap_or(defaults.min_score);
        if !min_score.is_finite() {
            return Err(invalid("min_score must be a number".into()));
        }
        let retriever = self.retriever.unwrap_or(defaults.retriever);
        Ok((query, SearchOptions { top_k, min_score, retriever, ..defaults }))
    }
}

/// The `{id}` of the `/v1/live/{id}` routes.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SessionPath {
    /// The `session_id` that `POST /v1/live` answered.
    pub id: String,
}

// ---- responses -----------------------------------------------------------------------------------

/// JSON written through a `serde_json::Value`, so object keys come out in alphabetical order — the bytes
/// these routes have always answered (`Json<T>` would write fields in declaration order).
pub struct Sorted<T>(pub T);

impl<T: Serialize> IntoResponse for Sorted<T> {
    fn into_response(self) -> axum::response::Response {
        match serde_json::to_value(&self.0) {
            Ok(value) => Json(value).into_response(),
            Err(_) => ApiError::internal("the response could not be encoded").into_response(),
        }
    }
}

impl<T: JsonSchema> OperationOutput for Sorted<T> {
    type Inner = T;

    fn operation_response(ctx: &mut GenContext, operation: &mut Operation) -> Option<Response> {
        Json::<T>::operation_response(ctx, operation)
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        operation: &mut Operation,
    ) -> Vec<(Option<StatusCode>, Response)> {
        Json::<T>::inferred_responses(ctx, operation)
    }
}

/// One result per input of a batch, in order.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BatchResults {
    pub results: Vec<BatchItem>,
}

/// The analysis of one conversation of a batch, or why it has none.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum BatchItem {
    Analysis(Box<Analysis>),
    Error(ErrorBody),
}

/// The intent of each text, in order.
#[derive(Debug, Serialize, JsonSchema)]
pub struct IntentResults {
    pub results: Vec<IntentPrediction>,
}

/// The sentiment of each text, in order.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SentimentResults {
    pub results: Vec<SentimentScore>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SentimentScore {
    pub label: SentimentLabel,
    /// From -1 (negative) to 1 (positive).
    pub score: f32,
    pub confidence: f32,
}

/// The summary field of a conversation's analysis.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SummaryField {
    pub conversation_id: String,
    pub language: Option<String>,
    pub summary: Option<Summary>,
    pub warnings: Vec<String>,
}

/// The churn field of a conversation's analysis.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ChurnField {
    pub conversation_id: String,
    pub language: Option<String>,
    pub churn: Option<ChurnRisk>,
    pub warnings: Vec<String>,
}

/// A live session was opened: post its turns to `/v1/live/{session_id}/turns`, read its events from
/// `/v1/live/{session_id}/events`, close it with `DELETE /v1/live/{session_id}`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LiveCreated {
    pub session_id: String,
    /// Turns the session takes (`--max-session-turns`); more get 413.
    pub max_turns: usize,
    /// Characters per turn (`--max-turn-chars`); longer turns get 413.
    pub max_turn_chars: usize,
    /// The session is closed after this many seconds without a turn (`--session-idle-secs`).
    pub idle_timeout_secs: u64,
}

/// A live session so far: its turns as shown to the agent and the analysis of them.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LiveState {
    pub session_id: String,
    /// Turns so far.
    pub turns: usize,
    pub transcript: Vec<TranscriptTurn>,
    /// The analysis of the turns so far (`null` before the first turn), without the LLM rewrite, which
    /// runs when the session is closed.
    pub analysis: Option<Analysis>,
}

/// One turn of a live session as it may be shown: masked unless redaction is off.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TranscriptTurn {
    pub speaker: Speaker,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<f64>,
}

/// The data of an `alert` event: an alert that fired with `turn`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AlertEvent {
    /// The turn whose update raised the alert.
    pub turn: usize,
    pub alert: Alert,
}

/// The data of a `knowledge` event: an article passage that answers what the customer asked in `turn`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct KnowledgeEvent {
    /// The turn whose update raised the suggestion (the customer's question).
    pub turn: usize,
    pub suggestion: Suggestion,
}

/// What `POST /v1/knowledge/search` found: the best passage of each fitting article, best first (empty
/// when nothing scores above `min_score`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct KnowledgeResults {
    pub suggestions: Vec<Suggestion>,
}

/// The data of a `token` event: the next piece of an LLM rewrite.
#[derive(Debug, Serialize, JsonSchema)]
pub struct StreamToken {
    pub text: String,
}

/// JSON with status 201 Created.
pub struct Created<T>(pub T);

impl<T: Serialize> IntoResponse for Created<T> {
    fn into_response(self) -> axum::response::Response {
        (axum::http::StatusCode::CREATED, Json(self.0)).into_response()
    }
}

impl<T: JsonSchema> OperationOutput for Created<T> {
    type Inner = T;

    fn operation_response(ctx: &mut GenContext, operation: &mut Operation) -> Option<Response> {
        Json::<T>::operation_response(ctx, operation)
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        operation: &mut Operation,
    ) -> Vec<(Option<StatusCode>, Response)> {
        documented(201, Self::operation_response(ctx, operation))
    }
}

/// What a custom response type's `inferred_responses` returns: its one documented response, under `status`.
pub fn documented(status: u16, response: Option<Response>) -> Vec<(Option<StatusCode>, Response)> {
    response.map(|r| (Some(StatusCode::Code(status)), r)).into_iter().collect()
}

/// A `text/event-stream` response documented with the schema of each event's data as `x-events`
/// (`{event name: schema}`), which OpenAPI has no field for.
pub fn event_stream_response(description: &str, events: serde_json::Value) -> Response {
    let mut response = text_response("text/event-stream", description);
    if let Some(media) = response.content.get_mut("text/event-stream") {
        media.extensions.insert("x-events".into(), events);
    }
    response
}

/// Models are loaded and the server answers.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Readiness {
    /// The model id of the encoder.
    pub encoder: String,
    pub ready: bool,
}

/// A response documented as text of one media type (for the routes that do not answer JSON).
pub fn text_response(media_type: &str, description: &str) -> Response {
    let schema = SchemaObject {
        json_schema: schemars::json_schema!({"type": "string"}),
        example: None,
        external_docs: None,
    };
    Response {
        description: description.to_string(),
        content: [(media_type.to_string(), MediaType { schema: Some(schema), ..Default::default() })]
            .into_iter()
            .collect(),
        ..Default::default()
    }
}
