"""The import direction of docs/architecture: media knows nothing of the rest of the hub."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("media", ["sqlalchemy", "aiohttp", "jinja2", "models", "web", "recordings"]),
        ("models", ["aiohttp", "media", "web", "recordings"]),
        ("recordings", ["web", "aiohttp"]),
    ],
)
def test_importing_a_layer_loads_nothing_from_the_layers_above_it(
    package: str, forbidden: list[str]
) -> None:
    probe = (
        "import importlib, sys, pkgutil\n"
        f"pkg = importlib.import_module({package!r})\n"
        "for mod in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "    if '.migrations' not in mod.name:\n"
        "        importlib.import_module(mod.name)\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=60
    ).stdout.split()
    assert not set(forbidden) & set(out)
