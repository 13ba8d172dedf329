// Needle in a haystack: the scorers and the results file (see needle.h).
#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <map>
#include <set>

#include "longctx/base/error.h"
#include "longctx/base/text.h"
#include "longctx/eval/needle.h"

namespace longctx {
namespace {

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_ascii_space(text[i])) ++i;
    size_t start = i;
    while (i < text.size() && !is_ascii_space(text[i])) ++i;
    if (i > start) words.emplace_back(text.substr(start, i - start));
  }
  return words;
}

}  // namespace

// ---- scorers ----

NeedleScores score_response(std::string_view response, std::string_view answer) {
  NeedleScores scores;
  std::vector<std::string> response_list = split_words(ascii_lower(response));
  std::vector<std::string> answer_list = split_words(ascii_lower(answer));
  std::set<std::string> response_words(response_list.begin(), response_list.end());
  std::set<std::string> answer_words(answer_list.begin(), answer_list.end());
  size_t common = 0;
  for (const std::string& word : answer_words) common += response_words.count(word);
  scores.paper = static_cast<double>(common) / 12.0;
  scores.recall = answer_words.empty()
                      ? 0.0
                      : static_cast<double>(common) / static_cast<double>(answer_words.size());

  std::string expected(trim_ascii_space(ascii_lower(answer)));
  if (!expected.empty() && expected.back() == '.') expected.pop_back();
  scores.exact = !expected.empty() && ascii_lower(response).find(expected) != std::string::npos;

  // rouge_score's tokenizer: lowercase, [^a-z0-9]+ -> " ", split.
  auto rouge_tokens = [](std::string_view text) {
    std::map<std::string, int64_t> counts;
    int64_t total = 0;
    std::string word;
    for (char c : ascii_lower(text) + " ") {
      if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
        word += c;
      } else if (!word.empty()) {
        ++counts[word];
        ++total;
        word.clear();
      }
    }
    return std::pair(counts, total);
  };
  auto [target, target_total] = rouge_tokens(answer);
  auto [prediction, prediction_total] = rouge_tokens(response);
  int64_t overlap = 0;
  for (const auto& [word, count] : target) {
    auto it = prediction.find(word);
    if (it != prediction.end()) overlap += std::min(count, it->second);
  }
  double precision =
      static_cast<double>(overlap) / static_cast<double>(std::max<int64_t>(prediction_total, 1));
  double recall =
      static_cast<double>(overlap) / static_cast<double>(std::max<int64_t>(target_total, 1));
  scores.rouge1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
  return scores;
}

std::string_view needle_scorer_name(NeedleScorer scorer) {
  switch (scorer) {
    case NeedleScorer::kPaper:
      return "paper";
    case NeedleScorer::kRecall:
      return "recall";
    case NeedleScorer::kExact:
      return "exact";
    case NeedleScorer::kRouge1:
      return "rouge1";
  }
  return "?";
}

NeedleScorer parse_needle_scorer(std::string_view text) {
  for (NeedleScorer scorer :
       {NeedleScorer::kPaper, NeedleScorer::kRecall, NeedleScorer::kExact, NeedleScorer::kRouge1}) {
    if (text == needle_scorer_name(scorer)) return scorer;
  }
  throw Error(fmt::format("--scorer: \"{}\" is not a scorer", text),
              "use paper, recall, exact or rouge1");
}

double score_of(const NeedleScores& scores, NeedleScorer scorer) {
  switch (scorer) {
    case NeedleScorer::kPaper:
      return scores.paper;
    case NeedleScorer::kRecall:
      return scores.recall;
    case NeedleScorer::kExact:
      return scores.exact;
    case NeedleScorer::kRouge1:
      return scores.rouge1;
  }
  return 0;
}

// ---- results ----

std::string needle_result_json(const NeedleResult& r) {
  nlohmann::json j = {{"length", r.length},
                      {"depth", r.depth},
                      {"prompt_tokens", r.prompt_tokens},
                      {"response", r.response},
                      {"scores",
                       {{"paper", r.scores.paper},
                        {"recall", r.scores.recall},
                        {"exact", r.scores.exact},
                        {"rouge1", r.scores.rouge1}}},
                      {"seconds", r.seconds},
                      {"error", r.error}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

NeedleResult parse_needle_result(std::string_view line, std::string_view where) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw Error(fmt::format("{}: not valid JSON", where));
  if (!j.is_object()) throw Error(fmt::format("{}: expected a JSON object", where));
  auto field = [&](const nlohmann::json& object, const char* key, bool number,
                   std::string_view in) -> const nlohmann::json& {
    auto it = object.find(key);
    if (it == object.end()) throw Error(fmt::format("{}: missing \"{}{}\"", where, in, key));
    if (number ? !it->is_number() : !it->is_string()) {
      throw Error(fmt::format("{}: \"{}{}\" is {}, expected a {}", where, in, key, it->dump(),
                              number ? "number" : "string"));
    }
    return *it;
  };
  auto whole = [&](const char* key) {
    const nlohmann::json& v = field(j, key, true, "");
    if (!v.is_number_integer()) {
      throw Error(fmt::format("{}: \"{}\" is {}, expected a whole number", where, key, v.dump()));
    }
    return v.get<int64_t>();
  };
  NeedleResult r;
  r.length = whole("length");
  r.depth = field(j, "depth", true, "").get<double>();
  r.prompt_tokens = whole("prompt_tokens");
  r.response = field(j, "response", false, "").get<std::string>();
  auto scores = j.find("scores");
  if (scores == j.end() || !scores->is_object()) {
    throw Error(fmt::format("{}: missing \"scores\" object", where));
  }
  r.scores.paper = field(*scores, "paper", true, "scores.").get<double>();
  r.scores.recall = field(*scores, "recall", true, "scores.").get<double>();
  r.scores.exact = field(*scores, "exact", true, "scores.").get<double>();
  r.scores.rouge1 = field(*scores, "rouge1", true, "scores.").get<double>();
  r.seconds = field(j, "seconds", true, "").get<double>();
  if (j.contains("error")) r.error = field(j, "error", false, "").get<std::string>();
  return r;
}

std::vector<NeedleResult> read_results(const std::filesystem::path& path, BadLines bad_lines,
                                       std::vector<std::string>* skipped) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(fmt::format("cannot open needle results {}: {}", path.string(), errno_text(errno)));
  std::vector<NeedleResult> results;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim_ascii_space(line).empty()) continue;
    try {
      results.push_back(parse_needle_result(line, fmt::format("{}:{}", path.string(), number)));
    } catch (const Error& e) {
      if (bad_lines == BadLines::kThrow) throw;
      if (skipped != nullptr) skipped->push_back(e.what());
    }
  }
  return results;
}

std::vector<NeedleResult> latest_per_cell(std::vector<NeedleResult> results) {
  std::map<std::pair<int64_t, double>, size_t> index;
  std::vector<NeedleResult> out;
  for (NeedleResult& r : results) {
    auto [it, fresh] = index.emplace(std::pair(r.length, r.depth), out.size());
    if (fresh) {
      out.push_back(std::move(r));
    } else {
      out[it->second] = std::move(r);
    }
  }
  return out;
}

double acc(std::span<const NeedleResult> results, NeedleScorer scorer) {
  if (results.empty()) throw Error("needle acc: no results to average");
  double sum = 0;
  for (const NeedleResult& r : results) sum += r.error.empty() ? score_of(r.scores, scorer) : 0.0;
  return 100.0 * sum / static_cast<double>(results.size());
}

}  // namespace longctx
