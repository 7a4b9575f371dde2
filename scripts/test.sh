#!/usr/bin/env bash
# The whole test suite: installs missing system packages, then builds and runs
# every Swift test, then the Python reader's tests against the mixprep just built.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build --build-tests
log=$(mktemp)
trap 'rm -f "$log"' EXIT
swift test --skip-build 2>&1 | tee "$log"

# The first python3 that has numpy and can pip-install the package offline: the one on PATH, else
# Debian's (python3-numpy python3-venv python3-setuptools python3-wheel). wheel is imported before
# setuptools: setuptools 71 and later put their vendored wheel on sys.path, which the virtual
# environment's own setuptools (from ensurepip) then lacks ("invalid command 'bdist_wheel'").
python=""
for candidate in python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c "import numpy, wheel, setuptools, ensurepip" 2>/dev/null; then
    python=$candidate
    break
  fi
done
if [ -z "$python" ]; then
  echo "error: no python3 with numpy, setuptools, wheel and venv (apt-get install python3-numpy python3-venv python3-setuptools python3-wheel)" >&2
  exit 1
fi
# The tests run against the package as a user installs it: pip installs ./python into a virtual
# environment (no network: --no-index, --no-deps; Debian's numpy, setuptools and wheel come in through
# --system-site-packages), and a copy of the tests outside the source tree imports it from there.
venv=$(mktemp -d)
trap 'rm -rf "$log" "$venv"' EXIT
"$python" -m venv --system-site-packages "$venv/env"
"$venv/env/bin/python" -m pip install --quiet --no-index --no-deps --no-build-isolation ./python
cp -R python/tests "$venv/tests"
installed=$(cd "$venv" && "$venv/env/bin/python" -c 'import mixshards; print(mixshards.__file__)')
case "$installed" in
  "$venv/env/"*) ;;
  *) echo "error: the tests would import mixshards from $installed, not the installed package" >&2; exit 1 ;;
esac
echo "Python tests ($("$python" --version 2>&1), numpy $("$python" -c 'import numpy; print(numpy.__version__)'), mixshards installed at ${installed%/__init__.py})"
(cd "$venv" && MIXSHARDS_REPO="$OLDPWD" MIXSHARDS_BIN="$(cd "$OLDPWD" && swift build --show-bin-path)" PYTHONDONTWRITEBYTECODE=1 \
  "$venv/env/bin/python" -m unittest discover -s tests -t .) 2>&1 | tee -a "$log"

# The job-array workflow on a real Slurm cluster (scripts/slurm/test-cluster.sh), where
# Slurm is installed and this is root (CI installs slurm-wlm and munge); said when skipped.
slurm="skipped (needs root and Slurm: apt-get install slurm-wlm munge)"
if [ "$(id -u)" -eq 0 ] && command -v slurmctld >/dev/null 2>&1 && command -v munged >/dev/null 2>&1; then
  MIXPREP="$(swift build --show-bin-path)/mixprep" bash scripts/slurm/test-cluster.sh 2>&1 | tee -a "$log"
  slurm="passed"
fi

# One closing line for both suites (each already failed the script if it failed).
swift_run=$(sed -n 's/.*Executed \([0-9]*\) tests\{0,1\}, with \([0-9]*\) tests\{0,1\} skipped and \([0-9]*\) failures\{0,1\}.*/\1 \2 \3/p' "$log" | tail -1)
[ -n "$swift_run" ] || swift_run=$(sed -n 's/.*Executed \([0-9]*\) tests\{0,1\}, with \([0-9]*\) failures\{0,1\}.*/\1 0 \2/p' "$log" | tail -1)
read -r s_run s_skip s_fail <<<"${swift_run:-0 0 0}"
p_run=$(sed -n 's/^Ran \([0-9]*\) tests\{0,1\}.*/\1/p' "$log" | tail -1)
p_skip=$(sed -n 's/^OK (skipped=\([0-9]*\))/\1/p' "$log" | tail -1)
p_run=${p_run:-0}; p_skip=${p_skip:-0}
echo "swift: $((s_run - s_skip - s_fail)) passed, $s_fail failed, $s_skip skipped; python: $((p_run - p_skip)) passed, 0 failed, $p_skip skipped"
echo "slurm job-array workflow: $slurm"
echo "tests: $((s_run - s_skip - s_fail + p_run - p_skip)) passed, $s_fail failed, $((s_skip + p_skip)) skipped"
