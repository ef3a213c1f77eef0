# `make docs`: the documentation site (mkdocs.yml, docs/, the SDK's docstrings) into
# build/site/, warnings as errors. Strict mode fails on a link to a missing page or anchor;
# docs/_hooks/links.py fails on any link that leaves the repository other than to the pinned
# Kubernetes source (whose files and line ranges it checks against the Go module cache when
# `make kube` has filled it). Included from the Makefile; uses its VENV/BIN.
.PHONY: docs docs-serve

docs: venv
	@test -x $(BIN)/mkdocs || { echo "make docs: $(BIN)/mkdocs is missing: mkdocs, mkdocstrings and mkdocstrings-python belong in the dev dependency group (make lock, then make venv)" >&2; exit 1; }
	$(BIN)/mkdocs build --strict --quiet
	@echo "docs: build/site/index.html"

# Live preview while writing (not part of CI).
docs-serve: venv
	$(BIN)/mkdocs serve --strict
