from .embedder import T5Embedder, preprocess_caption
from .t5 import T5EncoderModel, load_t5_encoder

__all__ = ["T5Embedder", "T5EncoderModel", "load_t5_encoder", "preprocess_caption"]
