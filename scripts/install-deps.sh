#!/usr/bin/env bash
# Installs the Debian packages mixshards builds against (and python3 with numpy,
# venv, setuptools and wheel for the Python reader's tests, which pip-install the
# package), if any is missing.
set -euo pipefail
packages=(pkg-config zlib1g-dev libdeflate-dev libpng-dev libturbojpeg0-dev libwebp-dev libswscale-dev libvips-dev libopenblas-dev python3 python3-numpy python3-venv python3-setuptools python3-wheel)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
