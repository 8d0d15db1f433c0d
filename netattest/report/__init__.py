"""Audit evidence of a run: machine records, pcaps, Allure metadata, the self-contained HTML report, the integrity
manifest, run-to-run diffs and the Allure HTML report. One small module per job:

* ``records``      checks.json, inventory.json, probes.jsonl (JSON Lines) and the per-check pcaps;
* ``pcap``         classic libpcap files from the probe engine's kept frames;
* ``transcript``   the human-readable probe transcript of one check;
* ``facts``        environment facts (kernel, CNI plugin versions and digests, harness version);
* ``allure_attach`` labels, parameters, steps and attachments inside the suites' tests;
* ``allure_env``   environment.properties, executor.json and categories.json for Allure;
* ``junit``        CI-friendly JUnit: broken tests as <error>, run properties;
* ``html``         the one-file HTML report (Jinja2 template in ``templates/``);
* ``scrub``        removes anything that looks like a credential from every evidence file;
* ``manifest``     SHA-256 of every evidence file (manifest.json and SHA256SUMS), and verification;
* ``diff``         what changed between two runs;
* ``allure_cli``   the Allure command line (npm ``allure-commandline``): HTML report with history and trends.

Record formats are described by JSON Schemas in ``schemas/`` (see ``schema_path``).
"""

from __future__ import annotations

from pathlib import Path

SCHEMA_DIR = Path(__file__).with_name("schemas")


def schema_path(name: str) -> Path:
    """Path of a record's JSON Schema, e.g. ``schema_path("run-summary")``."""
    return SCHEMA_DIR / f"{name}.schema.json"
