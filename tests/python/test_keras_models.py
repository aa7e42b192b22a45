"""examples/models/*.json are exactly what scripts/keras_models.py writes (the script is their source)."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_generator_reproduces_the_committed_models(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "scripts" / "keras_models.py"), str(tmp_path)], check=True,
                   capture_output=True)
    written = sorted(path.name for path in tmp_path.iterdir())
    assert written == ["c3d.json", "mobilenet.json", "resnet50.json", "vgg16.json"]
    for name in written:
        assert (tmp_path / name).read_bytes() == (ROOT / "examples" / "models" / name).read_bytes(), name
