"""Compress a trained model: pruning, int8 quantization, knowledge distillation.

`compress_model` is the one entry point the command line and the app share; each method
lives in its own module (prune, quantize, distill) and works on plain nn.Modules, so it
can be used without the pipeline too.
"""

from builder.compress.pipeline import CompressRequest, CompressResult, compress_model
from builder.compress.source import Trained, load_trained

__all__ = ["CompressRequest", "CompressResult", "Trained", "compress_model", "load_trained"]
