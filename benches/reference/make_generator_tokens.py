"""Reference token ids for the generator's GGUF-metadata tokenizer, from llama.cpp's own tokenizer.

llama.cpp (through llama-cpp-python, vocab only) is an independent implementation of the GGUF
`tokenizer.ggml.*` vocabulary: tests/generator.rs checks that copiloot's tokenizer gives the same ids.

Usage (venv from benches/compare_generator.sh):
  benches/.venv-llama/bin/python benches/reference/make_generator_tokens.py \
      models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf > benches/reference/generator_tokens.json
"""

import json
import sys

from llama_cpp import Llama

TEXTS = [
    "Hello world! How can I help you today?",
    "Goedemorgen, ik bel over mijn internetverbinding: die valt steeds weg sinds dinsdag.",
    "Mijn factuur van € 12,50 klopt niet; ordernummer 4471-2290, postcode 1234 AB.",
    "The technician comes on Thursday 3 March 2025 between 8:00 and 12:00.",
    "Ik heb   drie   spaties en\nnieuwe regels\n\nen tabs\tgebruikt.",
    "Café, naïve, coördinatie, ‘quotes’ — and an emoji 🙂.",
    "<|im_start|>user\nHallo!<|im_end|>\n<|im_start|>assistant\n",
    "   leading spaces and trailing   ",
]

llm = Llama(model_path=sys.argv[1], vocab_only=True, verbose=False)
out = [{"text": t, "ids": llm.tokenize(t.encode(), add_bos=False, special=True)} for t in TEXTS]
print("[\n" + ",\n".join(json.dumps(case, ensure_ascii=False) for case in out) + "\n]")
