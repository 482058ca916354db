# Two commands set up everything on a fresh machine:
#   make run    train the headline job (DQN on Pong, defaults)
#   make test   run the test suite
# Both create .venv and install what they need on first use.
VENV  ?= .venv
PY    := $(VENV)/bin/python
# The CPU wheel keeps installs small; for a GPU machine: make TORCH=torch run
TORCH ?= torch==2.13.0
ARGS  ?=
JOBS  ?= 2


.PHONY: run test install clean

# pip installs torch because it finds the local CPU wheel (uv would not look there and, asked
# for any torch, would fetch a CUDA build); uv installs the rest (18 s against pip's 47 s, same
# versions). Modules are compiled at install, on both cores: where PYTHONDONTWRITEBYTECODE is
# set (this CI) nothing compiled later is kept, and every process would compile torch again
# (measured: the tests 384 s -> 522 s without compiled modules).
$(VENV)/.installed: pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q uv
	$(PY) -m pip install -q --no-compile "$(TORCH)"
	$(VENV)/bin/uv pip install -q --python $(PY) --compile-bytecode -e '.[test,ray]'
	$(PY) -m compileall -q -j 0 "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/torch" \
	  > /dev/null || true  # a few of torch's test helpers are for newer Pythons: pip skips them too
	touch $@

install: $(VENV)/.installed

run: $(VENV)/.installed
	$(VENV)/bin/rl train dqn --env Pong $(ARGS)

test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest -q -n $(JOBS) --dist loadfile $(ARGS)

clean:
	rm -rf $(VENV) runs
