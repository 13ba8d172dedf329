#include "longctx/eval/bookqa.h"

#include <fmt/format.h>

#include <map>

#include "longctx/base/error.h"
#include "longctx/base/files.h"
#include "longctx/base/text.h"
#include "longctx/eval/qa_scoring.h"
#include "longctx/eval/text_lines.h"

namespace longctx {
namespace {

constexpr std::string_view kContext = "{context}", kQuestion = "{question}";

// The record's answers; empty when `answer` is neither a string nor a list of strings.
std::vector<std::string> answers_of(const nlohmann::json& answer) {
  std::vector<std::string> out;
  if (answer.is_string()) return {answer.get<std::string>()};
  if (!answer.is_array()) return out;
  for (const nlohmann::json& a : answer) {
    if (!a.is_string()) return {};
    out.push_back(a.get<std::string>());
  }
  return out;
}

}  // namespace

BookQaData read_bookqa(const std::filesystem::path& file) {
  BookQaData data;
  std::string text = read_file(file);
  int64_t index = 0;
  for_each_line(text, [&](uint64_t line_number, std::string_view line) {
    int64_t record = index++;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    auto skip = [&](std::string reason, std::string detail) {
      data.skipped.add(file.string(), line_number, std::move(reason), std::move(detail));
    };
    if (!j.is_object()) {
      skip("invalid_json", "not a JSON object");
      return;
    }
    bool missing = false;
    for (const char* field : {"context", "input", "answer"}) {
      if (!j.contains(field)) {
        skip(std::string("missing_") + field, fmt::format("no `{}` field", field));
        missing = true;
        break;
      }
    }
    if (missing) return;
    if (!j["context"].is_string() || !j["input"].is_string()) {
      skip("not_string", "`context` and `input` must be strings");
      return;
    }
    std::vector<std::string> answers = answers_of(j["answer"]);
    if (answers.empty()) {
      skip("answer", fmt::format("`answer` must be a string or a non-empty list of strings, got {}",
                                 j["answer"].dump().substr(0, 80)));
      return;
    }
    BookQaExample e;
    e.index = record;
    e.id = j.value("id", nlohmann::json());
    e.context = j["context"].get<std::string>();
    e.question = j["input"].get<std::string>();
    e.answers = std::move(answers);
    e.file = file.string();
    e.line = line_number;
    data.examples.push_back(std::move(e));
  });
  return data;
}

void validate_bookqa_template(std::string_view tmpl) {
  size_t first = tmpl.find(kContext);
  if (first == std::string_view::npos || tmpl.find(kContext, first + 1) != std::string_view::npos)
    throw Error("the book-QA template must hold {context} exactly once",
                "write the template with one {context} (the book) and {question}");
}

std::string bookqa_prompt_text(std::string_view tmpl, const BookQaExample& example) {
  std::string out;
  out.reserve(tmpl.size() + example.context.size() + example.question.size());
  for (size_t i = 0; i < tmpl.size();) {
    if (tmpl.substr(i, kContext.size()) == kContext) {
      out += example.context;
      i += kContext.size();
    } else if (tmpl.substr(i, kQuestion.size()) == kQuestion) {
      out += example.question;
      i += kQuestion.size();
    } else {
      out += tmpl[i++];
    }
  }
  return out;
}

std::vector<int32_t> middle_truncate(std::span<const int32_t> ids, int64_t max_tokens) {
  if (max_tokens <= 0 || static_cast<int64_t>(ids.size()) <= max_tokens)
    return {ids.begin(), ids.end()};
  auto half = static_cast<size_t>(max_tokens / 2);
  std::vector<int32_t> out(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(half));
  out.insert(out.end(), ids.end() - static_cast<std::ptrdiff_t>(half), ids.end());
  return out;
}

BookQaPrompt make_bookqa_prompt(const Tokenizer& tokenizer, std::string_view tmpl,
                                const BookQaExample& example, int64_t truncate_tokens) {
  std::vector<int32_t> ids;
  if (tokenizer.bos_id() >= 0) ids.push_back(tokenizer.bos_id());
  std::vector<int32_t> body = tokenizer.encode(bookqa_prompt_text(tmpl, example));
  ids.insert(ids.end(), body.begin(), body.end());
  BookQaPrompt prompt;
  prompt.full_tokens = static_cast<int64_t>(ids.size());
  prompt.ids = middle_truncate(ids, truncate_tokens);
  prompt.truncated = prompt.ids.size() < ids.size();
  std::span<const int32_t> text_ids(prompt.ids);
  if (!text_ids.empty() && tokenizer.bos_id() >= 0 && text_ids[0] == tokenizer.bos_id())
    text_ids = text_ids.subspan(1);
  prompt.text = tokenizer.decode(text_ids);
  return prompt;
}

BookQaScores score_bookqa(std::string_view prediction, std::span<const std::string> answers) {
  BookQaScores s;
  if (!answers.empty()) s.recall = paper_recall(prediction, answers[0]);
  s.f1 = answer_f1(prediction, answers);
  return s;
}

std::string bookqa_result_json(const BookQaResult& r) {
  nlohmann::json j = {{"index", r.index},
                      {"id", r.id},
                      {"prompt_tokens", r.prompt_tokens},
                      {"full_tokens", r.full_tokens},
                      {"prediction", r.prediction},
                      {"answers", r.answers},
                      {"recall", r.scores.recall},
                      {"f1", r.scores.f1},
                      {"seconds", r.seconds},
                      {"error", r.error}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

BookQaResult parse_bookqa_result(std::string_view line, std::string_view where) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) throw Error(fmt::format("{}: not a JSON object", where));
  try {
    BookQaResult r;
    r.index = j.at("index").get<int64_t>();
    r.id = j.value("id", nlohmann::json());
    r.prompt_tokens = j.at("prompt_tokens").get<int64_t>();
    r.full_tokens = j.at("full_tokens").get<int64_t>();
    r.prediction = j.at("prediction").get<std::string>();
    r.answers = j.at("answers").get<std::vector<std::string>>();
    r.scores.recall = j.at("recall").get<double>();
    r.scores.f1 = j.at("f1").get<double>();
    r.seconds = j.value("seconds", 0.0);
    r.error = j.value("error", std::string());
    return r;
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: {}", where, e.what()));
  }
}

BookQaSummary summarize_bookqa(std::span<const BookQaResult> results) {
  std::map<int64_t, const BookQaResult*> latest;
  for (const BookQaResult& r : results) latest[r.index] = &r;
  BookQaSummary s;
  for (const auto& [index, r] : latest) {
    ++s.examples;
    if (!r->error.empty()) {
      ++s.failed;
      continue;
    }
    s.truncated += r->prompt_tokens < r->full_tokens ? 1 : 0;
    s.recall += r->scores.recall;
    s.f1 += r->scores.f1;
  }
  if (s.examples > 0) {
    s.recall = 100 * s.recall / static_cast<double>(s.examples);
    s.f1 = 100 * s.f1 / static_cast<double>(s.examples);
  }
  return s;
}

nlohmann::json bookqa_summary_json(const BookQaSummary& s) {
  return {{"examples", s.examples},
          {"failed", s.failed},
          {"truncated", s.truncated},
          {"recall", s.recall},
          {"f1", s.f1}};
}

}  // namespace longctx
