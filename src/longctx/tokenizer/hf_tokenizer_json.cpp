// Loads HF tokenizers' tokenizer.json into a BpeSpec. Everything that changes the computation
// is checked; a component we do not implement is an error naming it, never ignored.
#include <simdjson.h>

#include <fmt/format.h>

#include "longctx/base/error.h"
#include "longctx/base/files.h"
#include "longctx/tokenizer/bpe_tokenizer.h"
#include "longctx/tokenizer/tokenizer_files.h"
#include "longctx/tokenizer/utf8.h"

namespace longctx {

namespace fs = std::filesystem;
using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

namespace {

constexpr std::string_view kMarker = "\xE2\x96\x81";  // "▁"

// GPT-2's byte <-> printable character table: bytes 33-126, 161-172 and 174-255 stand for
// themselves; the other 68 bytes map, in order, to U+0100 and up.
std::vector<int> byte_level_decoder() {
  std::vector<int> char_to_byte(512, -1);
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    int c = printable ? b : 256 + extra++;
    char_to_byte[static_cast<size_t>(c)] = b;
  }
  return char_to_byte;
}

class Loader {
 public:
  explicit Loader(fs::path path) : path_(std::move(path)) {}

  std::unique_ptr<Tokenizer> load() {
    simdjson::dom::parser parser;
    element root;
    if (auto error = parser.load(path_.string()).get(root)) {
      throw Error(fmt::format("{}: not a readable JSON file: {}", path_.string(),
                              simdjson::error_message(error)));
    }
    object model = require_object(root, "model");
    std::string_view type = optional_string(model, "type", "BPE");
    if (type != "BPE") {
      fail(fmt::format("model type '{}' is not supported (supported: BPE)", type));
    }
    for (const char* field : {"continuing_subword_prefix", "end_of_word_suffix"}) {
      std::string_view value = optional_string(model, field, "");
      if (!value.empty()) fail(fmt::format("model.{} '{}' is not supported", field, value));
    }
    if (!is_null_or_missing(model, "dropout")) fail("model.dropout is not supported");
    read_pre_tokenizer(root);
    read_normalizer(root);
    check_string_split();
    read_decoder(root);
    spec_.ignore_merges = optional_bool(model, "ignore_merges", false);
    spec_.byte_fallback = optional_bool(model, "byte_fallback", false);
    spec_.fuse_unk = optional_bool(model, "fuse_unk", false);
    read_vocab(require_object(model, "vocab"));
    read_merges(model);
    std::string_view unk = optional_string(model, "unk_token", "");
    if (!unk.empty()) spec_.unk_id = spec_.vocab.find(unk);
    read_added_tokens(root);
    read_special_ids();
    spec_.description = fmt::format("tokenizer.json:{}", path_.string());
    return std::make_unique<BpeTokenizer>(std::move(spec_));
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(fmt::format("{}: {}", path_.string(), what),
                "supported: BPE tokenizers of the Llama-2/Mistral/Gemma-3 (SentencePiece-style) "
                "and Llama-3/Qwen2 (byte-level) families");
  }
  object require_object(element parent, const char* key) const {
    object o;
    if (parent[key].get(o)) fail(fmt::format("missing or non-object field '{}'", key));
    return o;
  }
  object require_object(object parent, const char* key) const {
    object o;
    if (parent[key].get(o)) fail(fmt::format("missing or non-object field '{}'", key));
    return o;
  }
  static bool is_null_or_missing(object o, const char* key) {
    element e;
    return o[key].get(e) != simdjson::SUCCESS || e.is_null();
  }
  std::string_view optional_string(object o, const char* key, std::string_view fallback) const {
    element e;
    if (o[key].get(e) || e.is_null()) return fallback;
    std::string_view s;
    if (e.get(s)) fail(fmt::format("field '{}' is not a string", key));
    return s;
  }
  bool optional_bool(object o, const char* key, bool fallback) const {
    element e;
    if (o[key].get(e) || e.is_null()) return fallback;
    bool b;
    if (e.get(b)) fail(fmt::format("field '{}' is not a boolean", key));
    return b;
  }
  // A component and, when it is a Sequence, its parts (in order).
  std::vector<object> flatten(element component, const char* list_key) const {
    std::vector<object> parts;
    object o;
    if (component.get(o)) return parts;
    if (optional_string(o, "type", "") == "Sequence") {
      array list;
      if (o[list_key].get(list)) fail(fmt::format("Sequence without '{}'", list_key));
      for (element item : list) {
        for (object part : flatten(item, list_key)) parts.push_back(part);
      }
    } else {
      parts.push_back(o);
    }
    return parts;
  }

  void read_pre_tokenizer(element root) {
    element pre;
    bool byte_level = false, regex_from_byte_level = false;
    std::optional<RegexPattern> split;
    if (!root["pre_tokenizer"].get(pre) && !pre.is_null()) {
      for (object part : flatten(pre, "pretokenizers")) {
        std::string_view type = optional_string(part, "type", "");
        if (type == "ByteLevel") {
          byte_level = true;
          regex_from_byte_level = optional_bool(part, "use_regex", true);
          if (optional_bool(part, "add_prefix_space", false)) {
            fail("pre_tokenizer ByteLevel with add_prefix_space is not supported");
          }
        } else if (type == "Split" &&
                   !optional_string(require_object(part, "pattern"), "String", "").empty()) {
          // Checked against the normalizer once that is read (check_string_split).
          if (string_split_) fail("more than one pre_tokenizer Split on a string");
          string_split_ = optional_string(require_object(part, "pattern"), "String", "");
          if (optional_bool(part, "invert", false)) {
            fail("pre_tokenizer Split on a string is supported with invert false only");
          }
        } else if (type == "Split") {
          object pattern = require_object(part, "pattern");
          std::string_view regex = optional_string(pattern, "Regex", "");
          split = find_regex_pattern(regex);
          if (!split) fail(fmt::format("pre_tokenizer Split regex is not supported: {}", regex));
          if (optional_string(part, "behavior", "") != "Isolated" ||
              optional_bool(part, "invert", false)) {
            fail("pre_tokenizer Split is supported with behavior Isolated, invert false only");
          }
        } else {
          fail(fmt::format("pre_tokenizer '{}' is not supported", type));
        }
      }
    }
    if (split && !byte_level) fail("a Split pre_tokenizer without ByteLevel is not supported");
    if (string_split_ && byte_level) fail("a Split on a string with ByteLevel is not supported");
    if (split && regex_from_byte_level)
      fail("Split together with ByteLevel use_regex is not supported");
    spec_.alphabet = byte_level ? BpeAlphabet::kBytes : BpeAlphabet::kChars;
    if (byte_level) spec_.pattern = split ? *split : RegexPattern::kGpt2;
  }

  void read_normalizer(element root) {
    element normalizer;
    if (root["normalizer"].get(normalizer) || normalizer.is_null()) return;
    for (object part : flatten(normalizer, "normalizers")) {
      std::string_view type = optional_string(part, "type", "");
      if (type == "NFC") {
        spec_.nfc = true;
      } else if (type == "Prepend" && optional_string(part, "prepend", "") == kMarker &&
                 spec_.alphabet == BpeAlphabet::kChars) {
        spec_.prepend_marker = true;
      } else if (type == "Replace" && spec_.alphabet == BpeAlphabet::kChars &&
                 optional_string(require_object(part, "pattern"), "String", "") == " " &&
                 optional_string(part, "content", "") == kMarker) {
        spec_.replace_spaces = true;
      } else {
        fail(fmt::format("normalizer '{}' is not supported here", type));
      }
    }
  }

  // Gemma-3 splits on " " after a normalizer that has replaced every " " by "▁": that Split
  // never finds anything to cut, so it changes nothing. Any other Split on a string would.
  void check_string_split() const {
    if (!string_split_) return;
    if (*string_split_ != " " || !spec_.replace_spaces) {
      fail(
          fmt::format("pre_tokenizer Split on the string '{}' is not supported (only a Split on "
                      "\" \" after a normalizer that replaces \" \" by \"▁\")",
                      *string_split_));
    }
  }

  void read_decoder(element root) {
    element decoder;
    if (root["decoder"].get(decoder) || decoder.is_null()) return;
    for (object part : flatten(decoder, "decoders")) {
      std::string_view type = optional_string(part, "type", "");
      DecoderStep step;
      if (type == "ByteLevel" && spec_.alphabet == BpeAlphabet::kBytes) continue;
      if (spec_.alphabet != BpeAlphabet::kChars)
        fail(fmt::format("decoder '{}' is not supported here", type));
      if (type == "Replace") {
        step.kind = DecoderStep::Kind::kReplace;
        step.pattern = optional_string(require_object(part, "pattern"), "String", "");
        step.content = optional_string(part, "content", "");
        if (step.pattern.empty()) fail("decoder Replace is supported with a String pattern only");
      } else if (type == "ByteFallback") {
        step.kind = DecoderStep::Kind::kByteFallback;
      } else if (type == "Fuse") {
        step.kind = DecoderStep::Kind::kFuse;
      } else if (type == "Strip") {
        step.kind = DecoderStep::Kind::kStrip;
        step.content = optional_string(part, "content", " ");
        int64_t start = 0, stop = 0;
        if (part["start"].get(start) || part["stop"].get(stop)) {
          fail("decoder Strip needs integer start and stop");
        }
        step.start = static_cast<int>(start);
        step.stop = static_cast<int>(stop);
      } else {
        fail(fmt::format("decoder '{}' is not supported", type));
      }
      spec_.decode_steps.push_back(step);
    }
  }

  // Token text as stored: byte-level files spell bytes with GPT-2's character table.
  std::string token_bytes(std::string_view text) const {
    if (spec_.alphabet == BpeAlphabet::kChars) return std::string(text);
    static const std::vector<int> kDecoder = byte_level_decoder();
    std::string bytes;
    for (size_t pos = 0; pos < text.size();) {
      char32_t c = decode_utf8(text, pos);
      if (c >= kDecoder.size() || kDecoder[c] < 0) {
        fail(
            fmt::format("byte-level token '{}' holds a character outside the byte alphabet", text));
      }
      bytes += static_cast<char>(kDecoder[c]);
    }
    return bytes;
  }

  void read_vocab(object vocab) {
    for (auto [key, value] : vocab) {
      int64_t id;
      if (value.get(id) || id < 0) fail(fmt::format("vocab entry '{}' has no valid id", key));
      spec_.vocab.add(token_bytes(key), static_cast<int32_t>(id));
    }
  }

  void read_merges(object model) {
    array merges;
    if (model["merges"].get(merges)) fail("model.merges is missing");
    int32_t rank = 0;
    for (element item : merges) {
      std::string left, right;
      std::string_view text;
      if (!item.get(text)) {
        size_t space = text.find(' ', 1);
        if (space == std::string_view::npos)
          fail(fmt::format("merge '{}' is not 'left right'", text));
        left = token_bytes(text.substr(0, space));
        right = token_bytes(text.substr(space + 1));
      } else {
        array pair;
        std::string_view a, b;
        if (item.get(pair) || pair.size() != 2 || pair.at(0).get(a) || pair.at(1).get(b)) {
          fail("a merge is neither 'left right' nor [left, right]");
        }
        left = token_bytes(a);
        right = token_bytes(b);
      }
      int32_t l = spec_.vocab.find(left), r = spec_.vocab.find(right),
              m = spec_.vocab.find(left + right);
      if (l < 0 || r < 0 || m < 0) {
        fail(fmt::format("merge #{} refers to a token missing from the vocabulary", rank));
      }
      spec_.merges.add(l, r, rank++, m);
    }
  }

  void read_added_tokens(element root) {
    array added;
    if (root["added_tokens"].get(added)) return;
    for (element item : added) {
      object o;
      if (item.get(o)) fail("added_tokens holds a non-object");
      AddedToken token;
      int64_t id;
      if (o["id"].get(id)) fail("an added token has no id");
      token.id = static_cast<int32_t>(id);
      token.content = std::string(optional_string(o, "content", ""));
      token.special = optional_bool(o, "special", false);
      for (const char* flag : {"lstrip", "rstrip", "single_word"}) {
        if (optional_bool(o, flag, false)) {
          fail(
              fmt::format("added token '{}' uses {}, which is not supported", token.content, flag));
        }
      }
      if (optional_bool(o, "normalized", false) && !token.special) {
        fail(fmt::format("added token '{}' is normalized, which is not supported", token.content));
      }
      spec_.added.push_back(std::move(token));
    }
  }

  // bos/eos: tokenizer_config.json beside the file names them; else the usual names.
  void read_special_ids() {
    auto id_of = [&](std::string_view name) -> int32_t {
      for (const AddedToken& t : spec_.added) {
        if (t.content == name) return t.id;
      }
      return spec_.vocab.find(name);
    };
    fs::path config = path_.parent_path() / "tokenizer_config.json";
    std::error_code ec;
    if (fs::exists(config, ec)) {
      simdjson::dom::parser parser;
      element root;
      if (!parser.load(config.string()).get(root)) {
        auto name_of = [&](const char* key) -> std::string {
          element e;
          if (root[key].get(e) || e.is_null()) return "";
          std::string_view s;
          if (!e.get(s)) return std::string(s);
          if (!e["content"].get(s)) return std::string(s);
          return "";
        };
        std::string bos = name_of("bos_token"), eos = name_of("eos_token");
        if (!bos.empty()) spec_.bos_id = id_of(bos);
        if (!eos.empty()) spec_.eos_id = id_of(eos);
        if (!bos.empty() || !eos.empty()) return;
      }
    }
    for (auto [bos, eos] : {std::pair{"<s>", "</s>"},
                            {"<|begin_of_text|>", "<|end_of_text|>"},
                            {"", "<|endoftext|>"}}) {
      if (spec_.bos_id < 0 && *bos) spec_.bos_id = id_of(bos);
      if (spec_.eos_id < 0) spec_.eos_id = id_of(eos);
    }
  }

  fs::path path_;
  BpeSpec spec_;
  std::optional<std::string> string_split_;  // pre_tokenizer Split's String pattern
};

}  // namespace

std::unique_ptr<Tokenizer> load_hf_tokenizer_json(const fs::path& path) {
  return Loader(path).load();
}

}  // namespace longctx
