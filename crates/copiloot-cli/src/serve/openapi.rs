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
            "/healthz": {"get": {"summary": "Liveness", "responses": {"200": {"description": "ok"}}}},
            "/readyz": {"get": {"summary": "Models loaded", "responses": {"200": {"description": "ready"}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text format 0.0.4"}}}}
        },
        "components": {"schemas": {
            "Conversation": copiloot::conversation::input_schema(),
            "Analysis": copiloot::analysis::output_schema(),
            "Error": error
        }}
    })
}

fn describe(code: &str) -> &'static str {
    match code {
        "400" => "invalid input (malformed JSON, unknown speaker, empty conversation …)",
        "401" => "missing or wrong API key",
        "413" => "request body or conversation too large",
        "429" => "at capacity; retry after the Retry-After seconds",
        "504" => "the analysis exceeded the time limit",
        _ => "error",
    }
}
