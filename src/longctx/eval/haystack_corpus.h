// Haystacks drawn from a corpus: the needle test's default text when no --haystack is given is
// one domain of the default corpus (`make corpus`), read in stream order.
//
//   Haystack h = haystack_from_corpus(default_corpus(), "RedPajamaBook");
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

#include "longctx/eval/needle.h"

namespace longctx {

// The corpus `make corpus` builds: $LONGCTX_CORPUS, else the Makefile's CORPUS
// ($XDG_CACHE_HOME or ~/.cache, then longctx/default-corpus).
std::filesystem::path default_corpus();

// Documents of one domain of a corpus, in stream order (files sorted, then lines), joined by
// blank lines until `limit_bytes`: enough text for 128K tokens, in a fixed order.
Haystack haystack_from_corpus(const std::filesystem::path& corpus, const std::string& domain,
                              size_t limit_bytes = size_t{4} << 20);

}  // namespace longctx
