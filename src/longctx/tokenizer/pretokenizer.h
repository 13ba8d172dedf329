// Pre-tokenizers: cut text into the pieces that byte-level BPE encodes one at a time. The
// regular expressions that Llama-3, Qwen2/3 and GPT-2 tokenizers declare are implemented by
// hand here (one pass, no regex engine), matching the regex semantics exactly: leftmost
// alternative first, greedy quantifiers, Unicode classes from unicode_class.h.
//
//   Llama-3 (= GPT-4 cl100k), RegexPattern::kLlama3:
//     (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}
//     | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//   Qwen2/3, RegexPattern::kQwen2: the same with \p{N} instead of \p{N}{1,3}.
//   GPT-2, RegexPattern::kGpt2 (ByteLevel's own regex):
//     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
//   std::vector<std::string_view> pieces;
//   split_pretokens("Hello world's 12345", RegexPattern::kLlama3, pieces);
//   // "Hello", " world", "'s", " ", "123", "45"
//
// The input must be valid UTF-8 (see repair_utf8); the pieces tile it exactly.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace longctx {

enum class RegexPattern { kLlama3, kQwen2, kGpt2 };

// The pattern a tokenizer.json regex string denotes, or nullopt when it is not one we know.
std::optional<RegexPattern> find_regex_pattern(std::string_view regex);

// Appends the pieces of `text` to `out`.
void split_pretokens(std::string_view text, RegexPattern pattern,
                     std::vector<std::string_view>& out);
// The same from `pos` (the end of an earlier piece), at most `max_pieces` of them; returns where
// it stopped (text.size() at the end). Matching never looks behind, so pieces do not depend on
// where a call starts: a long text can be split a batch at a time.
size_t split_pretokens(std::string_view text, RegexPattern pattern,
                       std::vector<std::string_view>& out, size_t pos, size_t max_pieces);

}  // namespace longctx
