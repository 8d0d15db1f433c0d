# The two commands of the README. Each installs what is missing first (scripts/install.sh), so a fresh Debian 12
# machine needs nothing else.
.PHONY: run test install

run: install  ## the main job: acceptance suites against the embedded lab, reports under reports/<run-id>/
	netattest run

test: install  ## the project's own tests
	python3 -m pytest tests/

install:
	@bash scripts/install.sh
