"""Ground truth for mT5 (Open-Sora-Plan v1.3's text encoder, google/mt5-xxl) in tests/fixtures/mt5_tiny: a tiny
random-weight MT5ForConditionalGeneration saved as a Hugging Face folder (the layout of google/mt5-xxl: model_type
"mt5", encoder and decoder weights, an own SentencePiece vocabulary), and what transformers' MT5EncoderModel -- the
class the original's sample and train scripts load -- computes for a few prompts, in fp32 and fp64.

Not part of this project's install (torch and transformers 4.44.2, the original v1.3's pin):

    /work/scratch/torchvenv/bin/python benchmarks/original/v1_3/make_mt5_fixtures.py --out tests/fixtures/mt5_tiny

The vocabulary is tests/fixtures/t5_tiny's SentencePiece model (no mT5 vocabulary is available offline); the
weights are the encoder's own random init at seed 0 (transformers' init, std per layer as MT5's _init_weights).
"""

import argparse
import hashlib
import json
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_wfvae_fixtures import tolerance  # noqa: E402  (sibling script)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CAPTIONS = ["a red circle moves from left to right", "a dog running on the beach at sunset",
            "un chat noir dort sur le canapé", ""]
MAX_LENGTH = 16  # the original pads to 512; a short length keeps the fixture small and still pads


def main():
    import torch
    from transformers import MT5Config, MT5EncoderModel, MT5ForConditionalGeneration, T5Tokenizer

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(2)
    hf = os.path.join(args.out, "hf")
    os.makedirs(hf, exist_ok=True)
    shutil.copy(os.path.join(REPO, "tests/fixtures/t5_tiny/hf/spiece.model"), os.path.join(hf, "spiece.model"))
    tokenizer = T5Tokenizer(os.path.join(hf, "spiece.model"), legacy=False)
    tokenizer.save_pretrained(hf)
    config = MT5Config(vocab_size=len(tokenizer), d_model=48, d_kv=12, d_ff=96, num_layers=2, num_decoder_layers=1,
                       num_heads=4, relative_attention_num_buckets=32, relative_attention_max_distance=128,
                       feed_forward_proj="gated-gelu", tie_word_embeddings=False, dropout_rate=0.0)
    torch.manual_seed(0)
    full = MT5ForConditionalGeneration(config).eval()
    full.save_pretrained(hf, safe_serialization=True)
    enc = tokenizer(CAPTIONS, max_length=MAX_LENGTH, padding="max_length", truncation=True,
                    add_special_tokens=True, return_tensors="pt")
    outputs = {}
    for dtype in (torch.float32, torch.float64):
        encoder = MT5EncoderModel.from_pretrained(hf, torch_dtype=dtype).eval()  # as the original loads it
        with torch.no_grad():
            outputs[dtype] = encoder(input_ids=enc.input_ids, attention_mask=enc.attention_mask)[0].numpy()
    out32, out64 = outputs[torch.float32], outputs[torch.float64]
    np.savez_compressed(os.path.join(args.out, "outputs.npz"), input_ids=enc.input_ids.numpy(),
                        attention_mask=enc.attention_mask.numpy(), last_hidden_state=out32.astype(np.float32))
    with open(os.path.join(args.out, "captions.json"), "w") as f:
        json.dump({"captions": CAPTIONS, "max_length": MAX_LENGTH,
                   "tolerance": tolerance(out32, out64)}, f, indent=1, ensure_ascii=False)
    manifest = {}
    for root, _, files in os.walk(args.out):
        for file in sorted(files):
            rel = os.path.relpath(os.path.join(root, file), args.out)
            if rel not in ("MANIFEST.sha256", "README.md"):
                manifest[rel] = hashlib.sha256(open(os.path.join(root, file), "rb").read()).hexdigest()
    with open(os.path.join(args.out, "MANIFEST.sha256"), "w") as f:
        f.writelines(f"{digest}  {rel}\n" for rel, digest in sorted(manifest.items()))
    print(out32.shape, tolerance(out32, out64), enc.input_ids[0].tolist())


if __name__ == "__main__":
    main()
