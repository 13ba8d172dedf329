// Loads a tiktoken rank file ("<base64 token> <rank>" per line, as Llama-3's
// original/tokenizer.model) into a byte-level BpeSpec. tiktoken merges the adjacent pair whose
// concatenation has the lowest rank; the equivalent merge table holds, for every token t and
// every split of t into two tokens (a, b), the pair (a, b) -> t at rank(t).
#include <fmt/format.h>

#include <fstream>

#include "longctx/base/error.h"
#include "longctx/tokenizer/bpe_tokenizer.h"
#include "longctx/tokenizer/tokenizer_files.h"

namespace longctx {

namespace fs = std::filesystem;

namespace {

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool decode_base64(std::string_view text, std::string& out) {
  out.clear();
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    int v = base64_value(c);
    if (v < 0) return false;
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  return true;
}

// Llama-3's special tokens (Meta's tokenizer.py): ids 128000 + index.
std::vector<std::string> llama3_special_tokens() {
  std::vector<std::string> names{"<|begin_of_text|>",
                                 "<|end_of_text|>",
                                 "<|reserved_special_token_0|>",
                                 "<|reserved_special_token_1|>",
                                 "<|reserved_special_token_2|>",
                                 "<|reserved_special_token_3|>",
                                 "<|start_header_id|>",
                                 "<|end_header_id|>",
                                 "<|reserved_special_token_4|>",
                                 "<|eot_id|>"};
  for (int i = 5; i < 256 - 5; ++i)
    names.push_back(fmt::format("<|reserved_special_token_{}|>", i));
  return names;
}

}  // namespace

bool looks_like_tiktoken(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) return false;
  size_t space = line.find(' ');
  if (space == std::string::npos || space == 0) return false;
  std::string decoded;
  if (!decode_base64(line.substr(0, space), decoded)) return false;
  return line.find_first_not_of("0123456789", space + 1) == std::string::npos &&
         space + 1 < line.size();
}

std::unique_ptr<Tokenizer> load_tiktoken_ranks(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw Error(fmt::format("cannot open {}", path.string()));
  BpeSpec spec;
  spec.alphabet = BpeAlphabet::kBytes;
  spec.pattern = RegexPattern::kLlama3;
  spec.ignore_merges = true;  // tiktoken returns a piece found whole in the ranks as one token
  std::vector<std::string> tokens;
  std::string line, bytes;
  uint64_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.empty()) continue;
    size_t space = line.find(' ');
    int64_t rank = -1;
    if (space != std::string::npos) {
      try {
        rank = std::stoll(line.substr(space + 1));
      } catch (const std::exception&) {
        rank = -1;
      }
    }
    if (space == std::string::npos || rank < 0 || !decode_base64(line.substr(0, space), bytes)) {
      throw Error(fmt::format("{}:{}: not a tiktoken rank line", path.string(), line_number),
                  "expected '<base64 token> <rank>' per line");
    }
    if (static_cast<size_t>(rank) >= tokens.size()) tokens.resize(static_cast<size_t>(rank) + 1);
    tokens[static_cast<size_t>(rank)] = bytes;
    spec.vocab.add(bytes, static_cast<int32_t>(rank));
  }
  for (size_t rank = 0; rank < tokens.size(); ++rank) {
    const std::string& t = tokens[rank];
    for (size_t split = 1; split < t.size(); ++split) {
      int32_t a = spec.vocab.find(std::string_view(t).substr(0, split));
      int32_t b = spec.vocab.find(std::string_view(t).substr(split));
      if (a >= 0 && b >= 0) {
        spec.merges.add(a, b, static_cast<int32_t>(rank), static_cast<int32_t>(rank));
      }
    }
  }
  auto base = static_cast<int32_t>(tokens.size());
  std::vector<std::string> specials = llama3_special_tokens();
  for (size_t i = 0; i < specials.size(); ++i) {
    spec.added.push_back(AddedToken{specials[i], base + static_cast<int32_t>(i), true});
  }
  spec.bos_id = base;      // <|begin_of_text|>
  spec.eos_id = base + 1;  // <|end_of_text|>
  spec.description = fmt::format("tiktoken:{}", path.string());
  return std::make_unique<BpeTokenizer>(std::move(spec));
}

}  // namespace longctx
