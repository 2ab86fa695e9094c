"""The NumPy backprop engine: both lessons' APIs and the general model the server runs.

Pure NumPy: nothing here imports the web side.

Lesson 003::

    from app.engine import Network, FCLayer, ActivationLayer, tanh, tanh_prime, mse, mse_prime

Lesson 000::

    from app.engine import TwoLayerNetwork

The playground's model::

    from app.engine import Model, ModelConfig, LayerConfig
"""

from .activations import (
    ACTIVATIONS,
    Activation,
    get_activation,
    leaky_relu,
    leaky_relu_prime,
    linear,
    linear_prime,
    relu,
    relu_prime,
    sigmoid,
    sigmoid_prime,
    softmax,
    tanh,
    tanh_prime,
)
from .gradcheck import ChainTerms, LayerCheck, chain_terms, check_one, gradient_check
from .initializers import INITIALIZERS
from .layers import ActivationLayer, FCLayer, Layer
from .lesson000 import TwoLayerNetwork
from .losses import (
    LOSSES,
    Loss,
    binary_cross_entropy,
    binary_cross_entropy_prime,
    get_loss,
    mse,
    mse_prime,
    softmax_cross_entropy,
    softmax_cross_entropy_prime,
    sse,
    sse_prime,
)
from .model import (
    BatchResult,
    ConfigError,
    LayerConfig,
    LayerTrace,
    Model,
    ModelConfig,
    Phase,
    PhaseResult,
    config_as_dict,
    config_from_dict,
    errors_ignored,
    phases_of,
)
from .network import Network

__all__ = [
    "ACTIVATIONS",
    "INITIALIZERS",
    "LOSSES",
    "Activation",
    "ActivationLayer",
    "BatchResult",
    "ChainTerms",
    "ConfigError",
    "FCLayer",
    "Layer",
    "LayerCheck",
    "LayerConfig",
    "LayerTrace",
    "Loss",
    "Model",
    "ModelConfig",
    "Network",
    "Phase",
    "PhaseResult",
    "TwoLayerNetwork",
    "binary_cross_entropy",
    "binary_cross_entropy_prime",
    "chain_terms",
    "check_one",
    "config_as_dict",
    "config_from_dict",
    "errors_ignored",
    "get_activation",
    "get_loss",
    "gradient_check",
    "leaky_relu",
    "leaky_relu_prime",
    "linear",
    "linear_prime",
    "mse",
    "mse_prime",
    "phases_of",
    "relu",
    "relu_prime",
    "sigmoid",
    "sigmoid_prime",
    "softmax",
    "softmax_cross_entropy",
    "softmax_cross_entropy_prime",
    "sse",
    "sse_prime",
    "tanh",
    "tanh_prime",
]
