// Tokenizer: text <-> token ids for the model being trained. This is the interface every
// subsystem uses (stats, mix, evaluations); implementations are chosen by load_tokenizer().
// Today: SentencePiece `.model` files through Debian's libsentencepiece. The native
// `tokenizer.json` implementation is its own issue and plugs in behind the same interface.
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
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace longctx {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Ids of `text`, with no BOS or EOS added. Special-token text ("</s>") is plain text.
  virtual std::vector<int32_t> encode(std::string_view text) const = 0;
  // Number of ids encode() returns.
  virtual size_t count(std::string_view text) const { return encode(text).size(); }
  virtual std::string decode(std::span<const int32_t> ids) const = 0;
  virtual int32_t bos_id() const = 0;  // -1 when the vocabulary has none
  virtual int32_t eos_id() const = 0;  // -1 when the vocabulary has none
  virtual size_t vocab_size() const = 0;
  // What was loaded, e.g. "sentencepiece:/models/llama2/tokenizer.model".
  virtual std::string description() const = 0;
};

// Loads a tokenizer file, or finds one in a model directory (tokenizer.model). Throws Error
// naming the path and what is supported when the file is missing or of an unsupported kind.
std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& path);

}  // namespace longctx
