from .model import LatteT2V, Latte_models

__all__ = ["LatteT2V", "Latte_models"]
