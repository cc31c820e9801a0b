//! Chat prompts: the model's own `tokenizer.chat_template` (Jinja, from the GGUF metadata) rendered with
//! minijinja the way Hugging Face transformers renders it: `trim_blocks`, `lstrip_blocks`, loop controls,
//! Python string/dict methods (minijinja-contrib's pycompat), `raise_exception`, `strftime_now`, a
//! Python-style `tojson`, and the variables `messages`, `tools`/`documents` (none),
//! `add_generation_prompt`, `bos_token`, `eos_token` and `enable_thinking`.
//!
//! Thinking is off by default (`enable_thinking=false`): a Qwen3 note should not spend its token budget
//! on a `<think>` block, so Qwen3's template writes the empty `<think>\n\n</think>\n\n` itself. Templates
//! without the switch ignore the variable. `strftime_now` formats the local time at rendering, as
//! transformers does (Llama 3.2 prints "Today Date"); [`ChatTemplate::with_now`] pins it for tests.
//!
//! Fallback (documented): a GGUF without a chat template gets ChatML when its vocabulary has
//! `<|im_start|>`, else a plain `role: content` transcript. A template with a syntax error is a
//! [`Error::ModelLoad`] at load time; one that fails while rendering (e.g. `raise_exception("roles must
//! alternate")`) is an [`Error::InvalidInput`] naming the messages.

mod tojson;

use crate::error::{Error, Location, Result};
use minijinja::{Environment, ErrorKind, Value};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One chat message (`role` is `system`, `user` or `assistant`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self { role: role.into(), content: content.into() }
    }
    pub fn system(content: impl Into<String>) -> Self {
        Self::new("system", content)
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self::new("user", content)
    }
}

/// Where the template came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TemplateSource {
    Gguf,
    ChatmlFallback,
    PlainFallback,
}

const CHATML: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
const PLAIN: &str = "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}";

/// A compiled chat template plus the special tokens it may refer to.
pub struct ChatTemplate {
    env: Environment<'static>,
    pub source: TemplateSource,
    bos_token: String,
    eos_token: String,
    enable_thinking: bool,
    now: Option<jiff::civil::DateTime>,
}

const NAME: &str = "chat";

impl ChatTemplate {
    /// Compile `template` (or the fallback when `None`); `has_chatml` picks the fallback.
    pub fn new(
        path: &Path,
        template: Option<&str>,
        has_chatml: bool,
        bos_token: &str,
        eos_token: &str,
    ) -> Result<Self> {
        let (text, source) = match template {
            Some(t) => (t.to_string(), TemplateSource::Gguf),
            None if has_chatml => (CHATML.to_string(), TemplateSource::ChatmlFallback),
            None => (PLAIN.to_string(), TemplateSource::PlainFallback),
        };
        let mut env = Environment::new();
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .map_err(|e| Error::model_load(path, format!("chat template syntax config: {e}")))?,
        );
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_filter("tojson", tojson::tojson);
        env.add_function("raise_exception", |msg: String| -> std::result::Result<String, minijinja::Error> {
            Err(minijinja::Error::new(ErrorKind::InvalidOperation, msg))
        });
        env.add_template_owned(NAME, text).map_err(|e| {
            Error::model_load(
                path,
                format!("the chat template does not compile ({e}); fix or remove `tokenizer.chat_template`"),
            )
        })?;
        Ok(Self {
            env,
            source,
            bos_token: bos_token.to_string(),
            eos_token: eos_token.to_string(),
            enable_thinking: false,
            now: None,
        })
    }

    /// Let a template that has the switch (Qwen3) think before it answers; off unless asked.
    pub fn with_thinking(mut self, enable: bool) -> Self {
        self.enable_thinking = enable;
        self
    }

    /// Pin what `strftime_now` formats (tests, reproducible prompts); by default the local time now.
    pub fn with_now(mut self, now: jiff::civil::DateTime) -> Self {
        self.now = Some(now);
        self
    }

    /// Render the messages, ending with the assistant's turn opener (`add_generation_prompt`).
    pub fn render(&self, messages: &[ChatMessage]) -> Result<String> {
        let fail = |e: minijinja::Error| {
            let detail = e.detail().map(str::to_string).unwrap_or_else(|| e.to_string());
            Error::invalid(
                Location::field("messages"),
                format!("the model's chat template rejected the messages: {detail}"),
            )
        };
        let template = self.env.get_template(NAME).map_err(fail)?;
        // transformers' `datetime.now()` is naive local time; jiff falls back to UTC without a zone.
        let now = self.now.unwrap_or_else(|| jiff::ZonedDateTime::now().datetime());
        let strftime_now = Value::from_function(move |format: &str| {
            jiff::fmt::strtime::format(format, now).map_err(|e| {
                minijinja::Error::new(ErrorKind::InvalidOperation, format!("strftime_now({format:?}): {e}"))
            })
        });
        template
            .render(minijinja::context! {
                messages => Value::from(minijinja::value::Serde(messages)),
                tools => (),
                documents => (),
                add_generation_prompt => true,
                enable_thinking => self.enable_thinking,
                strftime_now => strftime_now,
                bos_token => self.bos_token.as_str(),
                eos_token => self.eos_token.as_str(),
            })
            .map_err(fail)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn t(src: Option<&str>, chatml: bool) -> Result<ChatTemplate> {
        ChatTemplate::new(Path::new("x.gguf"), src, chatml, "<s>", "</s>")
    }

    #[test]
    fn fallback_is_chatml_when_the_vocab_has_it() {
        let out = t(None, true).unwrap().render(&[ChatMessage::user("Hoi")]).unwrap();
        assert_eq!(out, "<|im_start|>user\nHoi<|im_end|>\n<|im_start|>assistant\n");
        let plain = t(None, false).unwrap().render(&[ChatMessage::user("Hoi")]).unwrap();
        assert_eq!(plain, "user: Hoi\nassistant: ");
    }

    #[test]
    fn python_methods_and_bos_work() {
        let src = "{{ bos_token }}{% for m in messages %}{{ m.content.strip().upper() }}{% if m.role.startswith('us') %}!{% endif %}{% endfor %}";
        let out = t(Some(src), false).unwrap().render(&[ChatMessage::user("  hi ")]).unwrap();
        assert_eq!(out, "<s>HI!");
    }

    #[test]
    fn raise_exception_is_a_typed_error() {
        let src = "{% if messages[0]['role'] != 'system' %}{{ raise_exception('System role required') }}{% endif %}";
        let err = t(Some(src), false).unwrap().render(&[ChatMessage::user("x")]).unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
        assert!(err.to_string().contains("System role required"), "{err}");
    }

    #[test]
    fn strftime_now_formats_the_pinned_time_and_bad_formats_are_typed_errors() {
        let now = jiff::civil::date(2025, 3, 14).at(9, 30, 0, 0);
        let ok = t(Some("{{ strftime_now('%d %b %Y %H:%M') }}"), false).unwrap().with_now(now);
        assert_eq!(ok.render(&[]).unwrap(), "14 Mar 2025 09:30");
        // A civil time has no offset to print (Python's naive datetime prints nothing there).
        let bad = t(Some("{{ strftime_now('%z') }}"), false).unwrap().with_now(now);
        let err = bad.render(&[]).unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    }

    #[test]
    fn enable_thinking_is_false_unless_asked() {
        let src = "{{ enable_thinking is defined and enable_thinking is false }}";
        assert_eq!(t(Some(src), false).unwrap().render(&[]).unwrap(), "True");
        assert_eq!(t(Some(src), false).unwrap().with_thinking(true).render(&[]).unwrap(), "False");
    }

    #[test]
    fn syntax_errors_fail_at_load() {
        let err = t(Some("{% for m in messages %}{{ m.content }"), false).err().unwrap();
        assert!(matches!(err, Error::ModelLoad { .. }), "{err}");
    }
}
