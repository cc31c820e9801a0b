#!/usr/bin/env python3
"""Expected renderings of the published chat templates, made without any copiloot code.

Renders every `tests/fixtures/chat_templates/*.jinja` the way Hugging Face transformers'
`apply_chat_template` does (`transformers.utils.chat_template_utils`): jinja2's
`ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)` with the `loopcontrols`
extension, `raise_exception`, a `tojson` filter that keeps non-ASCII, `strftime_now`, and the
variables `messages`, `tools=None`, `documents=None`, `add_generation_prompt=True`, the model's
special tokens (as in its `tokenizer_config.json`) and `enable_thinking=False` (Qwen3 reads it; the
other templates ignore it). Writes `tests/fixtures/chat_templates/expected.json`.

`strftime_now` is pinned to FIXED_NOW so the Llama 3.2 "Today Date" line is reproducible; the Rust
tests pin the same instant with `ChatTemplate::with_now`.

Run: python3 -m venv /tmp/jvenv && /tmp/jvenv/bin/pip install jinja2==3.1.6
     /tmp/jvenv/bin/python benches/reference/render_chat_templates.py
"""

import datetime
import json
import pathlib

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = pathlib.Path(__file__).resolve().parents[2]
DIR = ROOT / "tests" / "fixtures" / "chat_templates"
FIXED_NOW = datetime.datetime(2025, 3, 14, 9, 30, 0)

# Special tokens of each model's tokenizer_config.json (Qwen has no bos_token: null there, so the
# key is absent from transformers' special_tokens_map).
MODELS = {
    "qwen2.5-instruct": {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    "qwen3": {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    "gemma-3-it": {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>"},
    "llama-3.2-instruct": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
}

SYSTEM = "You are a contact-center assistant. Write a short CRM note in Dutch."
USER = "Klant belt over een dubbele afschrijving van €12,50 op haar factuur.\nZe wil het geld terug.\n"
CASES = {
    "system_user": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}],
    "user": [{"role": "user", "content": USER}],
    "multi_turn": [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "Wat is het probleem?"},
        {"role": "assistant", "content": "Een dubbele afschrijving."},
        {"role": "user", "content": USER},
    ],
    # Gemma 3 refuses two user turns in a row (raise_exception); the others render them.
    "two_users": [{"role": "user", "content": "Hallo?"}, {"role": "user", "content": USER}],
}


class TemplateError(Exception):
    pass


def environment():
    def raise_exception(message):
        raise TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return FIXED_NOW.strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render(template, messages, tokens, enable_thinking):
    """The rendered prompt, or {"error": message} when the template raises."""
    try:
        return template.render(
            messages=messages,
            tools=None,
            documents=None,
            add_generation_prompt=True,
            enable_thinking=enable_thinking,
            **tokens,
        )
    except TemplateError as e:
        return {"error": str(e)}


def main():
    env = environment()
    out = {
        "how": "benches/reference/render_chat_templates.py: jinja2 %s, transformers' settings, "
        "add_generation_prompt=True, enable_thinking=False (and True for qwen3 rendered_thinking_on), "
        "strftime_now pinned to %s"
        % (jinja2.__version__, FIXED_NOW.isoformat()),
        "now": FIXED_NOW.isoformat(),
        "cases": {name: msgs for name, msgs in CASES.items()},
        "templates": {},
    }
    for name, tokens in MODELS.items():
        template = env.from_string((DIR / f"{name}.jinja").read_text(encoding="utf-8"))
        rendered = {case: render(template, messages, tokens, False) for case, messages in CASES.items()}
        entry = {"special_tokens": tokens, "rendered": rendered}
        if name == "qwen3":
            # Thinking left on: no empty <think> block, the model opens its own.
            entry["rendered_thinking_on"] = {"system_user": render(template, CASES["system_user"], tokens, True)}
        out["templates"][name] = entry
    path = DIR / "expected.json"
    path.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
