"""The registry loads a built-in type's modules when a run needs it, and its table names every type."""

import subprocess
import sys
from pathlib import Path

from engine import registry

ROOT = Path(__file__).resolve().parents[2]


def test_the_table_names_every_built_in_type_and_its_module() -> None:
    registry.load_all()
    assert set(registry.BUILTIN_MODULES) == set(registry.type_names())
    modules = {p.stem for p in (ROOT / "engine" / "types").glob("*.py")} - {"__init__"}
    assert set(registry.BUILTIN_MODULES.values()) == modules
    assert modules <= {p.stem for p in (ROOT / "engine" / "providers").glob("*.py")}
    for name, module in registry.BUILTIN_MODULES.items():
        assert type(registry.get_type(name)).__module__ == f"engine.types.{module}"
        assert registry.providers_of(name), name


def test_a_run_of_files_loads_only_the_file_type() -> None:
    code = (
        "import sys\n"
        "from engine.apply import apply_catalog\n"
        "from engine.catalog import Catalog\n"
        "import tempfile, pathlib\n"
        "root = pathlib.Path(tempfile.mkdtemp())\n"
        "cat = Catalog.from_dict({'name': 'n', 'version': 1, 'resources': [\n"
        "    {'type': 'File', 'title': '/f', 'parameters': {'ensure': 'file', 'content': 'x'}}], 'edges': []})\n"
        "report = apply_catalog(cat, root=root, state_dir=root / 'state')\n"
        "assert (root / 'f').read_text() == 'x', report.status\n"
        "print(sorted(m for m in sys.modules if m.startswith(('engine.types.', 'engine.providers.'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['engine.providers.file', 'engine.types.file']"
    unknown = subprocess.run([sys.executable, "-c", "from engine import registry; print(registry.get_type('nosuch'))"],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert unknown.strip() == "None"
