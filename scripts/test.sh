#!/usr/bin/env bash
# The whole test suite: installs missing system packages, then builds and runs
# every Swift test, then the Python reader's tests against the mixprep just built.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build --build-tests
swift test --skip-build

# The first python3 that has numpy: the one on PATH, else Debian's (python3-numpy).
python=""
for candidate in python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c "import numpy" 2>/dev/null; then
    python=$candidate
    break
  fi
done
if [ -z "$python" ]; then
  echo "error: no python3 with numpy (apt-get install python3-numpy)" >&2
  exit 1
fi
echo "Python tests ($("$python" --version 2>&1), numpy $("$python" -c 'import numpy; print(numpy.__version__)'))"
MIXSHARDS_BIN="$(swift build --show-bin-path)" PYTHONPATH=python PYTHONDONTWRITEBYTECODE=1 \
  "$python" -m unittest discover -s python/tests -t python
