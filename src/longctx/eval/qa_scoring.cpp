#include "longctx/eval/qa_scoring.h"

#include <algorithm>
#include <map>
#include <set>

#include "longctx/tokenizer/unicode_class.h"
#include "longctx/tokenizer/utf8.h"
#include "longctx/eval/python_text.h"

namespace longctx {
namespace {

// What the regex \w matches in a Python str pattern: alphanumerics and the underscore.
bool is_word_char(char32_t c) {
  if (c == U'_') return true;
  CharClass k = char_class(c);
  return k == CharClass::kLetter || k == CharClass::kNumber;
}

bool is_ascii_punctuation(char32_t c) {
  return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
         (c >= 0x7B && c <= 0x7E);
}

std::vector<char32_t> code_points(std::string_view text) {
  std::vector<char32_t> out;
  for (size_t i = 0; i < text.size();) out.push_back(decode_utf8(text, i));
  return out;
}

std::string utf8_of(const std::vector<char32_t>& points) {
  std::string out;
  for (char32_t c : points) append_utf8(out, c);
  return out;
}

}  // namespace

std::string normalize_answer(std::string_view text) {
  // Lowercase, then punctuation out.
  std::vector<char32_t> points;
  for (char32_t c : code_points(python_lower(text)))
    if (!is_ascii_punctuation(c)) points.push_back(c);
  // Whole words "a", "an", "the" become a space: a maximal run of word characters equal to
  // one of them is exactly what \b(a|an|the)\b matches.
  std::vector<char32_t> kept;
  for (size_t i = 0; i < points.size();) {
    if (!is_word_char(points[i])) {
      kept.push_back(points[i++]);
      continue;
    }
    size_t end = i;
    while (end < points.size() && is_word_char(points[end])) ++end;
    std::vector<char32_t> word(points.begin() + static_cast<std::ptrdiff_t>(i),
                               points.begin() + static_cast<std::ptrdiff_t>(end));
    if (word == std::vector<char32_t>{U'a'} || word == std::vector<char32_t>{U'a', U'n'} ||
        word == std::vector<char32_t>{U't', U'h', U'e'}) {
      kept.push_back(U' ');
    } else {
      kept.insert(kept.end(), word.begin(), word.end());
    }
    i = end;
  }
  // White space collapsed.
  std::string out;
  for (const std::string& w : python_split(utf8_of(kept))) out += (out.empty() ? "" : " ") + w;
  return out;
}

double token_f1(std::string_view prediction, std::string_view answer) {
  std::vector<std::string> predicted = python_split(normalize_answer(prediction));
  std::vector<std::string> expected = python_split(normalize_answer(answer));
  std::map<std::string, int64_t> counts;
  for (const std::string& w : expected) ++counts[w];
  int64_t same = 0;
  for (const std::string& w : predicted) {
    auto it = counts.find(w);
    if (it != counts.end() && it->second > 0) {
      --it->second;
      ++same;
    }
  }
  if (same == 0) return 0.0;
  double precision = static_cast<double>(same) / static_cast<double>(predicted.size());
  double recall = static_cast<double>(same) / static_cast<double>(expected.size());
  return 2 * precision * recall / (precision + recall);
}

double answer_f1(std::string_view prediction, std::span<const std::string> answers) {
  double best = 0.0;
  for (const std::string& answer : answers) best = std::max(best, token_f1(prediction, answer));
  return best;
}

double paper_recall(std::string_view prediction, std::string_view answer) {
  std::vector<std::string> answer_words = python_split(python_lower(answer));
  std::vector<std::string> predicted_words = python_split(python_lower(prediction));
  std::set<std::string> expected(answer_words.begin(), answer_words.end());
  std::set<std::string> predicted(predicted_words.begin(), predicted_words.end());
  if (expected.empty()) return 0.0;
  size_t found = 0;
  for (const std::string& w : expected) found += predicted.count(w);
  return static_cast<double>(found) / static_cast<double>(expected.size());
}

}  // namespace longctx
