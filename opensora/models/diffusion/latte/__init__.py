from .model import Latte_models, LatteT2V

__all__ = ["LatteT2V", "Latte_models"]
