// Tokenizer: text <-> token ids for the model being trained. This is the interface every
// subsystem uses (stats, mix, evaluations); implementations are chosen by load_tokenizer().
// Implementation: BpeTokenizer (native, see bpe_tokenizer.h), loaded from HF tokenizer.json,
// tiktoken rank files and SentencePiece `.model` files (sentencepiece_model.h; libsentencepiece
// is not linked: it is only a reference in the tests and the benchmark).
//
//   std::unique_ptr<Tokenizer> tok = load_tokenizer("llama2/tokenizer.model");
//   std::vector<int32_t> ids = tok->encode("Hello world");   // no BOS/EOS added
//   size_t n = tok->count("Hello world");                     // == ids.size()
//
// Implementations are thread-safe: encode/count/decode are const and may run concurrently.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace longctx {

// How special-token text written in a document ("</s>", "<|begin_of_text|>") is treated.
enum class SpecialTokens {
  kAsText,  // ordinary text (the default: documents never produce control ids)
  kParse,   // cut out as the special token's id, as HF tokenizers does by default
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Ids of `text`, with no BOS or EOS added. Invalid UTF-8 is first replaced by U+FFFD.
  virtual std::vector<int32_t> encode(std::string_view text, SpecialTokens special) const = 0;
  std::vector<int32_t> encode(std::string_view text) const {
    return encode(text, SpecialTokens::kAsText);
  }
  // Number of ids encode() returns.
  virtual size_t count(std::string_view text) const { return encode(text).size(); }
  // The id of a token written as text (e.g. "<s>"), if the vocabulary has it.
  virtual std::optional<int32_t> token_id(std::string_view token) const = 0;
  virtual std::string decode(std::span<const int32_t> ids) const = 0;
  virtual int32_t bos_id() const = 0;  // -1 when the vocabulary has none
  virtual int32_t eos_id() const = 0;  // -1 when the vocabulary has none
  virtual size_t vocab_size() const = 0;
  // What was loaded, e.g. "sentencepiece:/models/llama2/tokenizer.model".
  virtual std::string description() const = 0;
};

// Whitespace-separated token ids ("1 450 4996"): each a decimal integer in [0, 2^31). Throws
// Error naming `where` (a file, or a line) and the first word that is not an id.
std::vector<int32_t> parse_token_ids(std::string_view text, std::string_view where);

// Loads a tokenizer: an HF tokenizer.json, a SentencePiece .model, or a tiktoken rank file;
// for a model directory, its tokenizer.json (else tokenizer.model). Throws Error naming the
// path and the unsupported component when the file cannot be used.
std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& path);

}  // namespace longctx
