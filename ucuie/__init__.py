"""UC-UIE and RUIE-Bench/LDA: unified information extraction with a hierarchical MoE adapter."""

__version__ = "0.1.0"
