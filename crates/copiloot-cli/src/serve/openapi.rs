//! The OpenAPI 3.1 description of the HTTP API, with the JSON Schemas of the data contract.

use serde_json::{json, Value};

pub fn spec() -> Value {
    let error = json!({"type": "object", "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}}}}});
    let errors = |codes: &[&str]| -> Value {
        codes.iter().map(|c| (c.to_string(), json!({"description": describe(c), "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}))).collect::<serde_json::Map<_, _>>().into()
    };
    let mut analyze_responses = errors(&["400", "401", "413", "429", "504"]);
    analyze_responses["200"] = json!({"description": "the analysis", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Analysis"}}}});
    let mut batch_responses = errors(&["400", "401", "413", "429", "504"]);
    batch_responses["200"] = json!({"description": "one result (an analysis or an error) per input, in order",
        "content": {"application/json": {"schema": {"type": "object", "properties": {"results": {"type": "array"}}}}}});
    let mut texts_responses = errors(&["400", "401", "413", "429", "503", "504"]);
    texts_responses["200"] = json!({"description": "one result per text, in order",
        "content": {"application/json": {"schema": {"type": "object", "properties": {"results": {"type": "array"}}}}}});
    let mut field_responses = errors(&["400", "401", "413", "429", "504"]);
    field_responses["200"] = json!({"description": "conversation_id, language, the field and warnings",
        "content": {"application/json": {"schema": {"type": "object"}}}});
    let mut stream_responses = errors(&["400", "401", "413", "429"]);
    stream_responses["200"] = json!({"description": "server-sent events: token*, then summary or error",
        "content": {"text/event-stream": {"schema": {"type": "string"}}}});
    let texts = json!({"oneOf": [
        {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}},
        {"type": "object", "required": ["texts"], "properties": {"texts": {"type": "array", "items": {"type": "string"}, "maxItems": 256}}}]});
    json!({
        "openapi": "3.1.0",
        "info": {"title": "copiloot", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Local-first AI copilot for contact-center agents"},
        "paths": {
            "/v1/analyze": {"post": {
                "summary": "Analyse one conversation (JSON, or a plain transcript as text/plain with ?id=)",
                "requestBody": {"required": true, "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Conversation"}},
                    "text/plain": {"schema": {"type": "string"}}}},
                "responses": analyze_responses}},
            "/v1/analyze/batch": {"post": {
                "summary": "Analyse a list of conversations",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "array", "items": {"$ref": "#/components/schemas/Conversation"}}}}},
                "responses": batch_responses}},
            "/v1/intent": {"post": {
                "summary": "Intent of single texts (e.g. one chat message): {\"text\": …} or {\"texts\": […]}",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Texts"}}}},
                "responses": texts_responses.clone()}},
            "/v1/sentiment": {"post": {
                "summary": "Sentiment (label, score -1..1, confidence) of single texts",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Texts"}}}},
                "responses": texts_responses}},
            "/v1/summarize": {"post": {
                "summary": "The grounded summary of one conversation (the `summary` field of the Analysis)",
                "requestBody": {"required": true, "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Conversation"}},
                    "text/plain": {"schema": {"type": "string"}}}},
                "responses": field_responses.clone()}},
            "/v1/summarize/stream": {"post": {
                "summary": "The summary as server-sent events: `token` events ({\"text\": piece}) while the configured generator writes the rewrite, then one `summary` event (the summary JSON) or an `error` event ({\"error\": {code, message}})",
                "requestBody": {"required": true, "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Conversation"}},
                    "text/plain": {"schema": {"type": "string"}}}},
                "responses": stream_responses}},
            "/v1/churn": {"post": {
                "summary": "The churn risk of one conversation with its reasons (the `churn` field of the Analysis)",
                "requestBody": {"required": true, "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Conversation"}},
                    "text/plain": {"schema": {"type": "string"}}}},
                "responses": field_responses}},
            "/healthz": {"get": {"summary": "Liveness", "responses": {"200": {"description": "ok"}}}},
            "/readyz": {"get": {"summary": "Models loaded", "responses": {"200": {"description": "ready"}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text format 0.0.4"}}}}
        },
        "components": {"schemas": {
            "Conversation": copiloot::conversation::input_schema(),
            "Analysis": copiloot::analysis::output_schema(),
            "Texts": texts,
            "Error": error
        }}
    })
}

fn describe(code: &str) -> &'static str {
    match code {
        "400" => "invalid input (malformed JSON, unknown speaker, empty conversation …)",
        "401" => "missing or wrong API key",
        "413" => "request body or conversation too large",
        "503" => "the model for this task is not available on this server",
        "429" => "at capacity; retry after the Retry-After seconds",
        "504" => "the analysis exceeded the time limit",
        _ => "error",
    }
}
