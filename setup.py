"""Packaging for torch-ember.

The ``torch_dynamo_backends`` entry point makes ``torch.compile(model, backend="ember")`` work in a process
that never imports ``torch_ember``: Dynamo looks the name up among installed entry points.
"""
from setuptools import find_packages, setup

setup(
    name="torch-ember",
    version="0.1.0",
    description="Run PyTorch embedding work as programs for an emulated decoupled access-execute device",
    packages=find_packages(include=["torch_ember*", "dae_emulator*", "tune*", "dae_agent*"]),
    package_data={"dae_agent": ["tasks/programs/*.dae", "prompts/*.dae"]},
    python_requires=">=3.11",
    install_requires=["torch>=2.11", "numpy", "numba", "gpytorch", "scikit-learn", "tqdm", "matplotlib"],
    extras_require={"test": ["pytest", "hypothesis", "torch_geometric", "triton==3.9.0", "transformers", "gguf",
                             "accelerate", "tensordict", "torchmetrics==1.0.3", "pyre-extensions",
                             "expecttest", "optuna", "smac", "distributed", "xgrammar"], "bench": ["optuna", "smac", "hypermapper",
                                                                              # hypermapper 2 imports pkg_resources
                                                                              "setuptools<81"]},
    entry_points={"torch_dynamo_backends": ["ember = torch_ember.dynamo_backend:ember_backend"]},
)
