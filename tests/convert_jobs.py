"""Run by the runtime-only environment's Python (no torch there): convert each job of a JSON
list with :func:`imagexform.convert.conversion.convert_checkpoint` and print one JSON object,
each job's template and importer or its one-line error, and which heavy modules got imported.

A job: ``{"id", "checkpoint", "output", "templates": [paths] or null, "family": name or null}``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from imagexform.convert.conversion import convert_checkpoint
from imagexform.convert.templates import read_template
from imagexform.errors import UserError


def convert(job: dict) -> dict:
    given = job.get("templates")
    templates = None if given is None else [read_template(Path(p)) for p in given]
    try:
        report = convert_checkpoint(
            job["checkpoint"], job["output"], family_name=job.get("family"), templates=templates
        )
    except UserError as exc:
        return {"error": str(exc)}
    return {"template": report.template, "importer": report.importer, "seconds": report.seconds}


def main(jobs_file: str) -> None:
    jobs = json.loads(Path(jobs_file).read_text(encoding="utf-8"))
    results = {job["id"]: convert(job) for job in jobs}
    imported = sorted(name for name in ("torch", "safetensors", "spandrel") if name in sys.modules)
    print(json.dumps({"results": results, "imported": imported}))


if __name__ == "__main__":
    main(sys.argv[1])
