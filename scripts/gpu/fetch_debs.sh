#!/usr/bin/env bash
# Here, on a Debian 12 machine with apt: downloads the Debian packages that the full build
# needs beside libtorch into .gpu-debs/ (git-ignored), for a GPU machine that has PyTorch but no
# package registry. Carry .gpu-debs/ there; scripts/gpu/deps.sh unpacks them into a prefix and
# scripts/gpu/build_gpu.sh builds against it (docs/cluster.md, "A GPU node without a registry").
#
#   scripts/gpu/fetch_debs.sh [DIR]      (DIR defaults to .gpu-debs; about 24 MB)
#
# Headers and CMake/pkg-config files come from the -dev packages; the shared libraries whose
# sonames an Ubuntu 24.04 or newer Debian lacks (simdjson 14, ICU 72, sentencepiece 0,
# cpp-httplib 0.11) come as runtime packages. zstd, zlib, libpng, libcurl and OpenSSL are
# linked against the machine's own libraries when it has them (deps.sh says when not).
set -euo pipefail
dir=${1:-.gpu-debs}
mkdir -p "$dir"
packages=(
  # data subsystem
  libsimdjson-dev libsimdjson14 libicu-dev libicu72 libzstd-dev zlib1g-dev nlohmann-json3-dev
  libfmt-dev libcli11-dev libtomlplusplus-dev libxxhash-dev
  # eval (HTTP client)
  libcurl4-openssl-dev
  # tests: GoogleTest, the fake OpenAI server, the SentencePiece reference
  libgtest-dev libcpp-httplib-dev libcpp-httplib0.11 libsentencepiece-dev libsentencepiece0
  # data parallelism: gloo's headers, where the libtorch brings none (c10d's ProcessGroupGloo)
  libgloo-dev
  libbrotli-dev libssl-dev
)
cd "$dir"
rm -f ./*.deb
apt-get download "${packages[@]}" 2> >(grep -v "unsandboxed" >&2)
ls -1 ./*.deb | wc -l | xargs echo "fetch_debs: packages in $dir:"
du -sh . | cut -f1 | xargs echo "fetch_debs: size"
