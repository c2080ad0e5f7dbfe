"""Captions -> T5 embeddings and masks, as Open-Sora-Plan v1.0.0 prepares them."""

import html
import os
import re
import urllib.parse as ul

import mindspore as ms
import numpy as np

from ...utils.errors import UserError
from ...utils.logger import get_logger
from .t5 import load_t5_encoder


def clean_caption_available():
    try:
        import bs4  # noqa: F401
        import ftfy  # noqa: F401
    except ImportError:
        return False
    return True


def basic_clean(text):
    """The lower-case + strip the original applies in every case."""
    return text.lower().strip()


def clean_caption(caption):
    """The DeepFloyd/PixArt caption cleaner (needs ftfy and beautifulsoup4): urls, html, CJK, ids, punctuation."""
    import ftfy
    from bs4 import BeautifulSoup

    caption = ul.unquote_plus(str(caption)).strip().lower()
    caption = re.sub("<person>", "person", caption)
    caption = re.sub(
        r"\b((?:https?:(?:\/{1,3}|[a-zA-Z0-9%])|[a-zA-Z0-9.\-]+[.](?:com|co|ru|net|org|edu|gov|it)[\w/-]*\b\/?(?!@)))",
        "",
        caption,
    )
    caption = re.sub(
        r"\b((?:www:(?:\/{1,3}|[a-zA-Z0-9%])|[a-zA-Z0-9.\-]+[.](?:com|co|ru|net|org|edu|gov|it)[\w/-]*\b\/?(?!@)))",
        "",
        caption,
    )
    caption = BeautifulSoup(caption, features="html.parser").text
    caption = re.sub(r"@[\w\d]+\b", "", caption)
    caption = re.sub(
        r"[\u31c0-\u31ef]+|[\u31f0-\u31ff]+|[\u3200-\u32ff]+|[\u3300-\u33ff]+|[\u3400-\u4dbf]+"
        r"|[\u4dc0-\u4dff]+|[\u4e00-\u9fff]+",
        "",
        caption,
    )
    caption = re.sub(
        r"[\u002D\u058A\u05BE\u1400\u1806\u2010-\u2015\u2E17\u2E1A\u2E3A\u2E3B\u2E40\u301C\u3030"
        r"\u30A0\uFE31\uFE32\uFE58\uFE63\uFF0D]+",
        "-",
        caption,
    )
    caption = re.sub(r"[`´«»“”¨]", '"', caption)
    caption = re.sub(r"[‘’]", "'", caption)
    caption = re.sub(r"&quot;?", "", caption)
    caption = re.sub(r"&amp", "", caption)
    caption = re.sub(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}", " ", caption)
    caption = re.sub(r"\d:\d\d\s+$", "", caption)
    caption = re.sub(r"\\n", " ", caption)
    caption = re.sub(r"#\d{1,3}\b", "", caption)
    caption = re.sub(r"#\d{5,}\b", "", caption)
    caption = re.sub(r"\b\d{6,}\b", "", caption)
    caption = re.sub(r"[\S]+\.(?:png|jpg|jpeg|bmp|webp|eps|pdf|apk|mp4)", "", caption)
    caption = re.sub(r"[\"\']{2,}", r'"', caption)
    caption = re.sub(r"[\.]{2,}", r" ", caption)
    bad_punct = re.compile(r"[#®•©™&@·º½¾¿¡§~\)\(\]\[\}\{\|\\\/\*]{1,}")
    caption = re.sub(bad_punct, r" ", caption)
    caption = re.sub(r"\s+\.\s+", r" ", caption)
    regex2 = re.compile(r"(?:\-|\_)")
    if len(re.findall(regex2, caption)) > 3:
        caption = re.sub(regex2, " ", caption)
    caption = html.unescape(html.unescape(ftfy.fix_text(caption))).strip()
    caption = re.sub(r"\b[a-zA-Z]{1,3}\d{3,15}\b", "", caption)
    caption = re.sub(r"\b[a-zA-Z]+\d+[a-zA-Z]+\b", "", caption)
    caption = re.sub(r"\b\d+[a-zA-Z]+\d+\b", "", caption)
    caption = re.sub(r"(worldwide\s+)?(free\s+)?shipping", "", caption)
    caption = re.sub(r"(free\s)?download(\sfree)?", "", caption)
    caption = re.sub(r"\bclick\b\s(?:for|on)\s\w+", "", caption)
    caption = re.sub(r"\b(?:png|jpg|jpeg|bmp|webp|eps|pdf|apk|mp4)(\simage[s]?)?", "", caption)
    caption = re.sub(r"\bpage\s+\d+\b", "", caption)
    caption = re.sub(r"\b\d*[a-zA-Z]+\d+[a-zA-Z]+\d+[a-zA-Z\d]*\b", r" ", caption)
    caption = re.sub(r"\b\d+\.?\d*[xх×]\d+\.?\d*\b", "", caption)
    caption = re.sub(r"\b\s+\:\s+", r": ", caption)
    caption = re.sub(r"(\D[,\./])\b", r"\1 ", caption)
    caption = re.sub(r"\s+", " ", caption)
    # (the original calls caption.strip() here and discards the result: a trailing space survives to the next step)
    caption = re.sub(r"^[\"\']([\w\W]+)[\"\']$", r"\1", caption)
    caption = re.sub(r"^[\'\_,\-\:;]", r"", caption)
    caption = re.sub(r"[\'\_,\-\:\-\+]$", r"", caption)
    caption = re.sub(r"^\.\S+$", "", caption)
    return caption.strip()


def preprocess_caption(text, use_clean_caption=True):
    """Training captions: cleaned twice when ftfy and bs4 are installed (as the original), else lower/strip."""
    if use_clean_caption and clean_caption_available():
        return clean_caption(clean_caption(text))
    return basic_clean(text)


def warn_truncated(tokenizer, texts, max_length, logger):
    """As the original: say which captions lost tokens to the max length (they are still used, truncated)."""
    for i, text in enumerate(texts):
        n = len(tokenizer(text, add_special_tokens=True)["input_ids"])
        if n > max_length:
            logger.warning(
                f"caption {i} has {n} tokens; only the first {max_length} are used "
                f"(raise --t5_max_length to keep more): {text[:60]!r}..."
            )


SMALL_VOCABULARY = 2000  # a demo model's; real T5 / mT5 vocabularies split unknown words into pieces by design


def warn_unknown_words(tokenizer, texts, logger):
    """With a small (demo) vocabulary: a prompt word that is not one of its whole-word pieces means nothing to the
    model; say which, and which words it knows (e.g. "a purple star spins" to the toy-world demo)."""
    if len(tokenizer) > SMALL_VOCABULARY:
        return
    known = sorted({p[1:] for p in tokenizer.get_vocab() if p.startswith("\u2581") and len(p) > 1 and p[1:].isalpha()})
    for text in texts:
        unknown = [w for w in text.split() if len(tokenizer.tokenize(w)) != 1]
        if unknown:
            logger.warning(f"prompt {text!r}: {', '.join(unknown)} not in the model's vocabulary (it knows: "
                           f"{', '.join(known)})")


T5_FOLDER_LAYOUT = ("a Hugging Face T5 folder: config.json, spiece.model or tokenizer.json, and model.safetensors "
                    "(or shards + index, or pytorch_model*.bin)")
TOKENIZER_FILES = ("spiece.model", "tokenizer.json")


def require_t5_folder(model_dir, flag="--t5_model_dir"):
    """A missing folder is named as such (transformers would report it as a failed hub download)."""
    if not model_dir or not os.path.isdir(model_dir):
        raise UserError(f"{flag} {model_dir or '(empty)'}: not found; download "
                        f"https://huggingface.co/DeepFloyd/t5-v1_1-xxl there ({T5_FOLDER_LAYOUT})")
    if not os.path.isfile(os.path.join(model_dir, "config.json")):
        raise UserError(f"{flag} {model_dir}: no config.json in it; expected {T5_FOLDER_LAYOUT}")
    if not any(os.path.isfile(os.path.join(model_dir, name)) for name in TOKENIZER_FILES):
        raise UserError(f"{flag} {model_dir}: no tokenizer ({' or '.join(TOKENIZER_FILES)}); expected "
                        f"{T5_FOLDER_LAYOUT}")
    return model_dir


class T5Embedder:
    """Tokenizer + T5 encoder from one Hugging Face folder (offline).

    `encode(captions)` -> (embeddings float32 (B, L, D), mask int (B, L)), padded/truncated to `max_length`.
    """

    def __init__(self, model_dir, max_length=120, dtype=ms.float32, use_clean_caption=True, logger=None):
        require_t5_folder(model_dir)
        from transformers import AutoTokenizer

        self.logger = logger or get_logger()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        except (OSError, ValueError) as err:
            raise UserError(
                f"--t5_model_dir {model_dir}: cannot load a tokenizer ({str(err).splitlines()[0][:150]})"
            ) from err
        self.model = load_t5_encoder(model_dir, dtype, self.logger)
        self.max_length = max_length
        self.use_clean_caption = use_clean_caption and clean_caption_available()
        if self.use_clean_caption:
            how = "clean_caption x2 (ftfy + bs4)"
        elif use_clean_caption:  # asked for, but the packages are missing
            how = "lower-case + strip (install ftfy and beautifulsoup4 for the original's clean_caption)"
        else:
            how = "lower-case + strip (as the original's inference)"
        self.logger.info(f"caption preprocessing: {how}")

    def tokenize(self, captions):
        texts = [preprocess_caption(c, self.use_clean_caption) for c in captions]
        enc = self.tokenizer(
            texts,
            max_length=self.max_length,
            padding="max_length",
            truncation=True,
            add_special_tokens=True,
            return_attention_mask=True,
            return_tensors="np",
        )
        warn_truncated(self.tokenizer, texts, self.max_length, self.logger)
        return enc["input_ids"].astype(np.int32), enc["attention_mask"].astype(np.int32)

    def encode(self, captions):
        ids, mask = self.tokenize(captions)
        emb = self.model(ms.Tensor(ids), ms.Tensor(mask)).astype(ms.float32).asnumpy()
        return emb, mask
