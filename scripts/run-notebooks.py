"""Executes every notebook headless on the Rust (evcxr) kernel, one after another.

Outputs go to target/notebooks/, never into notebooks/. A notebook fails on a
compile error (nbclient raises), on a panic (evcxr is configured not to keep
going, and outputs are scanned for 'panicked at'), or on a timeout.
"""

import pathlib
import sys
import time

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "target" / "notebooks"


def outputs_text(nb):
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            yield out.get("text", "") + "".join(out.get("traceback", [])) + str(out.get("data", {}).get("text/plain", ""))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    args = [pathlib.Path(a).resolve() for a in sys.argv[1:]]
    notebooks = args or sorted((ROOT / "notebooks").glob("*.ipynb"))
    failed = 0
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(nb, kernel_name="rust", timeout=1800, startup_timeout=120,
                                resources={"metadata": {"path": str(path.parent)}})
        start = time.time()
        try:
            client.execute()
            bad = [t for t in outputs_text(nb) if "panicked at" in t]
            status = "failed: a cell panicked" if bad else "ok"
        except Exception as e:  # nbclient raises CellExecutionError on errors
            status = f"failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
            print(str(e)[-3000:], file=sys.stderr)
        nbformat.write(nb, OUT / path.name)
        print(f"notebook {path.name}: {status} in {time.time() - start:.1f} s")
        failed += status != "ok"
    print(f"notebooks: {len(notebooks) - failed} passed, {failed} failed")
    sys.exit(1 if failed or not notebooks else 0)


if __name__ == "__main__":
    main()
