"""Make the demo model's small text encoder: a T5-layout SentencePiece tokenizer trained on the toy captions and a
T5 v1.1 encoder with frozen random weights (Hugging Face folder: config.json, model.safetensors, tokenizer files).

    python examples/toy_world/make_demo_t5.py --output_dir assets/demo_model/t5

The encoder is never trained: a random T5 still gives each word its own embedding (the blocks are residual),
and LatteT2V's cross-attention learns to read them. The weights follow Hugging Face's T5 initialisation
(`T5PreTrainedModel._init_weights`, factor 1.0), drawn from a seeded numpy generator, except the relative
position bias, which is set so that each head reads one neighbouring word (NEIGHBOUR_OFFSETS): that is what
makes word order ("from left to right" / "from right to left") visible in the outputs.
"""

import argparse
import json
import os
import tempfile

import numpy as np
from safetensors.numpy import save_file

from opensora.utils.config import HelpFormatter
from toy_world.toy_shapes import all_combinations, caption

# T5 v1.1 layout (gated-gelu), sized for the demo: ~60 k parameters
T5_CONFIG = {
    "architectures": ["T5EncoderModel"], "model_type": "t5", "d_model": 64, "d_kv": 16, "d_ff": 128, "num_layers": 2,
    "num_decoder_layers": 2, "num_heads": 4, "relative_attention_num_buckets": 32,
    "relative_attention_max_distance": 128, "dropout_rate": 0.0, "layer_norm_epsilon": 1e-6,
    "feed_forward_proj": "gated-gelu", "dense_act_fn": "gelu_new", "is_gated_act": True, "initializer_factor": 1.0,
    "tie_word_embeddings": False, "pad_token_id": 0, "eos_token_id": 1, "decoder_start_token_id": 0,
    "is_encoder_decoder": True,
}
EXTRA_IDS = 100
FALLBACK_PIECES = ["▁", *".,;:!?'\"-", *"abcdefghijklmnopqrstuvwxyz0123456789"]
FALLBACK_SCORE = -20.0  # T5's <extra_id_N> sentinels, as every T5 tokenizer has them


def train_sentencepiece(sentences, model_prefix):
    """SentencePiece model with T5's special ids (pad 0, eos 1, unk 2, no bos) and one piece per word.

    A word model: the captions have 15 distinct words, too few for the unigram trainer to keep whole words
    (it stops at character pieces); a word not in the captions becomes <unk>.
    """
    import sentencepiece as spm

    words = {w for s in sentences for w in s.split()}
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_prefix=model_prefix, model_type="word", vocab_size=len(words) + 3,
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, num_threads=1, minloglevel=2)
    return model_prefix + ".model"


def t5_tokenizer(spiece_path):
    """The T5 tokenizer (fast, tokenizer.json) of a SentencePiece model, T5 layout: the pieces, then the
    <extra_id_N> sentinels in reverse (the last id is <extra_id_0>).

    Letters and punctuation are added as low-score pieces, so "bottom." is "▁bottom" + "." and an unknown word
    is spelled out instead of becoming one <unk>, as with a real T5 vocabulary."""
    import sentencepiece as spm
    from transformers import T5Tokenizer

    sp = spm.SentencePieceProcessor(model_file=spiece_path)
    vocab = [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())]
    vocab += [(c, FALLBACK_SCORE) for c in FALLBACK_PIECES]
    vocab += [(f"<extra_id_{i}>", 0.0) for i in reversed(range(EXTRA_IDS))]
    return T5Tokenizer(vocab=vocab, extra_ids=EXTRA_IDS, model_max_length=512)


# Head h looks at the word NEIGHBOUR_OFFSETS[h] places away. With T5's random init the relative bias is ~0.1,
# attention is near uniform and the encoder is a bag of words: "from left to right" and "from right to left" gave
# token sets 4% apart (colours: 42%), and LatteT2V's cross-attention, which has no key positions, could not tell
# the directions apart. Fixed neighbour heads make every output depend on the words around it.
NEIGHBOUR_OFFSETS = (-1, 1, -2, 2)
NEIGHBOUR_BIAS = 8.0  # e^8 ~ 3000: the head's attention is all but one-hot on its neighbour


def neighbour_bias(config):
    """relative_attention_bias (buckets, heads): NEIGHBOUR_BIAS at each head's offset, 0 elsewhere."""
    from opensora.models.text_encoder.t5 import relative_position_bucket

    bias = np.zeros((config["relative_attention_num_buckets"], config["num_heads"]), np.float32)
    offsets = np.array(NEIGHBOUR_OFFSETS[:config["num_heads"]])
    buckets = relative_position_bucket(offsets, config["relative_attention_num_buckets"],
                                       config["relative_attention_max_distance"])
    bias[buckets, np.arange(len(offsets))] = NEIGHBOUR_BIAS
    return bias


def t5_weights(config, vocab_size, seed):
    """HF names -> float32 arrays, drawn like T5PreTrainedModel._init_weights."""
    rng = np.random.default_rng(seed)
    d, kv, heads, ff = config["d_model"], config["d_kv"], config["num_heads"], config["d_ff"]
    inner = kv * heads

    def normal(std, shape):
        return (rng.standard_normal(shape) * std).astype(np.float32)

    w = {"shared.weight": normal(1.0, (vocab_size, d))}
    for i in range(config["num_layers"]):
        p = f"encoder.block.{i}.layer."
        w[p + "0.SelfAttention.q.weight"] = normal((d * kv) ** -0.5, (inner, d))
        w[p + "0.SelfAttention.k.weight"] = normal(d ** -0.5, (inner, d))
        w[p + "0.SelfAttention.v.weight"] = normal(d ** -0.5, (inner, d))
        w[p + "0.SelfAttention.o.weight"] = normal(inner ** -0.5, (d, inner))
        if i == 0:
            normal(d ** -0.5, (config["relative_attention_num_buckets"], heads))  # drawn, then replaced: same stream
            w[p + "0.SelfAttention.relative_attention_bias.weight"] = neighbour_bias(config)
        w[p + "0.layer_norm.weight"] = np.ones(d, np.float32)
        w[p + "1.DenseReluDense.wi_0.weight"] = normal(d ** -0.5, (ff, d))
        w[p + "1.DenseReluDense.wi_1.weight"] = normal(d ** -0.5, (ff, d))
        w[p + "1.DenseReluDense.wo.weight"] = normal(ff ** -0.5, (d, ff))
        w[p + "1.layer_norm.weight"] = np.ones(d, np.float32)
    w["encoder.final_layer_norm.weight"] = np.ones(d, np.float32)
    return w


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--output_dir", default="assets/demo_model/t5", help="tokenizer, config.json and weights go here")
    p.add_argument("--seed", type=int, default=0, help="seed of the random encoder weights")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    # every caption of the toy world (held-out ones too: a tokenizer only needs the words, which all appear
    # in training captions anyway)
    sentences = sorted({caption(*c) for c in all_combinations()})
    os.makedirs(args.output_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        spiece = train_sentencepiece(sentences, os.path.join(tmp, "spiece"))
        tokenizer = t5_tokenizer(spiece)
        tokenizer.save_pretrained(args.output_dir)
    vocab_size = len(tokenizer)
    config = dict(T5_CONFIG, vocab_size=vocab_size)
    with open(os.path.join(args.output_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    weights = t5_weights(config, vocab_size, args.seed)
    save_file(weights, os.path.join(args.output_dir, "model.safetensors"))
    n = sum(v.size for v in weights.values())
    print(f"{args.output_dir}: tokenizer of {vocab_size} tokens, T5 encoder with {n} random parameters")
    print("example:", tokenizer.tokenize(sentences[0]))


if __name__ == "__main__":
    main()
