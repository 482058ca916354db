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

# --no-compile: Python compiles the modules a program imports on first use, not all ~17,000
# files of torch, Ray and the rest at install (torch alone: 21.6 s -> 7.4 s on 2 cores)
$(VENV)/.installed: pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --no-compile --upgrade pip
	$(PY) -m pip install -q --no-compile "$(TORCH)"
	$(PY) -m pip install -q --no-compile -e '.[test,ray]'
	touch $@

install: $(VENV)/.installed

run: $(VENV)/.installed
	$(VENV)/bin/rl train dqn --env Pong $(ARGS)

test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest -q -n $(JOBS) --dist loadfile $(ARGS)

clean:
	rm -rf $(VENV) runs
