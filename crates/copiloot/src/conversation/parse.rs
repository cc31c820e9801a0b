//! Parsers: JSON, JSONL and plain `Speaker: text` transcripts.

use super::Conversation;
use crate::error::Result;

#[derive(Debug, Clone, Default)]
pub struct Limits {}

#[derive(Debug, Clone, Default)]
pub struct ParseOptions {}

pub fn parse_json(_text: &str, _opts: &ParseOptions) -> Result<Conversation> {
    todo!()
}
pub fn parse_jsonl(_text: &str, _opts: &ParseOptions) -> Result<Vec<Conversation>> {
    todo!()
}
pub fn parse_transcript(_id: &str, _text: &str, _opts: &ParseOptions) -> Result<Conversation> {
    todo!()
}
pub fn read_conversations(_path: &std::path::Path, _opts: &ParseOptions) -> Result<Vec<Conversation>> {
    todo!()
}
pub fn parse_str(_id: &str, _text: &str, _opts: &ParseOptions) -> Result<Conversation> {
    todo!()
}
