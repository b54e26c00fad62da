# The course's two commands (see README.md):
#   make reproduce   the full experiment on the default (synthetic) dataset: data, training, ensembles, Table I
#   make test        exactly what CI runs: library == notebooks, clean notebooks, every chapter, tests, website pages
# Each creates or refreshes the local virtual environment .venv first.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# torch is installed before everything else so nothing later swaps it. torch==2.13.0 resolves to the CPU wheel
# where one is provided locally (as on our CI machines) and to the ordinary PyPI build elsewhere; override with
# `make TORCH=torch` (any torch >= 2.4 works).
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.installed
ARGS   ?=

.PHONY: setup reproduce chapters test lab docs clean-venv mutants

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e ".[dev]"
	@touch $(STAMP)

setup: $(STAMP)

## The main job: generate (or find) the data, scan it, train the four networks, build both ensembles, write Table I.
## Real FMA (after `mgr download`): make reproduce ARGS="--data fma --epochs 20"; --data also takes a folder holding fma_metadata/ and fma_small/
reproduce: $(STAMP)
	$(BIN)/mgr reproduce $(ARGS)

## Re-execute the chapters in place with the default config (after `make reproduce`, whose runs they reuse), so that the
## outputs the website shows come from the library as it stands; `make test` fails while any chapter's outputs are stale.
## One chapter: make chapters CHAPTERS=06_learner
CHAPTERS ?=
chapters: $(STAMP)
	$(BIN)/python tools/run_chapters.py $(CHAPTERS)
	$(BIN)/python tools/readme_results.py

## The tests, in order; each step stops the run with a message that says what to do.
test: $(STAMP)
	@echo "== 1/3 nbdev-export: the library must be exactly what the notebooks export"
	@tmp=$$(mktemp -d) && cp -r pyproject.toml _quarto.yml nbs mgr_course $$tmp/ && \
	  (cd $$tmp && $(CURDIR)/$(BIN)/nbdev-export) && diff -r mgr_course $$tmp/mgr_course > $$tmp/export.diff; \
	  if [ -s $$tmp/export.diff ]; then head -40 $$tmp/export.diff; rm -rf $$tmp; \
	  echo "FAIL: mgr_course/ is not what the notebooks in nbs/ export (above: '<' is the file here, '>' the export)."; \
	  echo "      The notebooks are the source: make the change in the notebook (an '#| export' cell), then run"; \
	  echo "      '$(BIN)/nbdev-export' (it overwrites hand edits in mgr_course/) and commit both."; \
	  exit 1; fi; rm -rf $$tmp
	@$(BIN)/nbdev-export
	@if [ -n "$$(git status --porcelain --untracked-files=all -- mgr_course)" ]; then \
	  git status --short --untracked-files=all -- mgr_course; \
	  echo "FAIL: git sees changes under mgr_course/ (shown above) that are not committed."; \
	  echo "      Commit the notebook together with what '$(BIN)/nbdev-export' wrote."; \
	  exit 1; fi
	@echo "== 2/3 nbdev-clean: notebooks must be committed clean"
	@tmp=$$(mktemp -d) && cp -rL nbs $$tmp/ && $(BIN)/nbdev-clean && diff -rq $$tmp/nbs nbs > $$tmp/clean.diff; \
	  if [ -s $$tmp/clean.diff ]; then sed 's|^Files .*/nbs/\(.*\) and .*|  \1|' $$tmp/clean.diff; rm -rf $$tmp; \
	  echo "FAIL: nbdev-clean had to clean the notebooks listed above (it has now cleaned them)."; \
	  echo "      Review and commit them; run '$(BIN)/nbdev-clean' before committing a notebook."; \
	  exit 1; fi; rm -rf $$tmp
	@if [ -n "$$(git status --porcelain --untracked-files=all -- nbs)" ]; then \
	  git status --short --untracked-files=all -- nbs; \
	  echo "FAIL: git sees changes under nbs/ (shown above) that are not committed: commit the notebooks."; \
	  exit 1; fi
	@echo "== 3/3 pytest: every chapter, then tests/, then the website pages"
	$(BIN)/python -m pytest tests

## Mutation testing (slow, so not part of `make test`): mutmut changes one thing at a time in the modules where a wrong
## number would mislead a reader, runs the fast tests that reach the change (setup.cfg, [mutmut]), prints each module's score
## and records it in results/mutation.md (README, "Mutation testing"). One module: make mutants MUTATE=metrics; what survived:
## .venv/bin/python tests/mutation_score.py --survivors metrics
MUTATE ?= metrics evaluation ensemble baseline features predict config
mutants: $(STAMP)
	@for m in $(MUTATE); do \
	  echo "== mutmut: mgr_course/$$m.py (log: mutants-$$m.log)"; \
	  MGR_DATA=$${MGR_DATA:-$(CURDIR)/data} IN_TEST=1 OMP_NUM_THREADS=1 nice -n 19 $(BIN)/mutmut run "mgr_course.$$m.*" > mutants-$$m.log 2>&1 \
	    || { tail -c 2000 mutants-$$m.log; echo; echo "FAIL: mutmut stopped on mgr_course/$$m.py (above, the end of mutants-$$m.log); nothing recorded"; exit 1; }; \
	  $(BIN)/python tests/mutation_score.py --record $$m; \
	done

## Open the chapters in JupyterLab.
lab: $(STAMP)
	$(BIN)/jupyter lab nbs

## Build the website (needs Quarto: https://quarto.org/docs/get-started/ or nbdev-install-quarto).
docs: $(STAMP)
	$(BIN)/nbdev-docs

clean-venv:
	rm -rf $(VENV)
