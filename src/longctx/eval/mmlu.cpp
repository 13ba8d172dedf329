#include "longctx/eval/mmlu.h"

#include <fmt/format.h>

#include <algorithm>

#include "longctx/base/error.h"
#include "longctx/eval/python_text.h"

namespace longctx {
namespace {

// lm-evaluation-harness's mmlu groups (its tasks/mmlu/default/*.yaml tags), the 57 subjects of
// Hendrycks et al. (2021).
struct SubjectCategory {
  std::string_view subject;
  MmluCategory category;
};
constexpr MmluCategory S = MmluCategory::kStem, H = MmluCategory::kHumanities,
                       SS = MmluCategory::kSocialSciences, O = MmluCategory::kOther;
constexpr std::array<SubjectCategory, 57> kSubjects{{
    {"abstract_algebra", S},
    {"anatomy", S},
    {"astronomy", S},
    {"business_ethics", O},
    {"clinical_knowledge", O},
    {"college_biology", S},
    {"college_chemistry", S},
    {"college_computer_science", S},
    {"college_mathematics", S},
    {"college_medicine", O},
    {"college_physics", S},
    {"computer_security", S},
    {"conceptual_physics", S},
    {"econometrics", SS},
    {"electrical_engineering", S},
    {"elementary_mathematics", S},
    {"formal_logic", H},
    {"global_facts", O},
    {"high_school_biology", S},
    {"high_school_chemistry", S},
    {"high_school_computer_science", S},
    {"high_school_european_history", H},
    {"high_school_geography", SS},
    {"high_school_government_and_politics", SS},
    {"high_school_macroeconomics", SS},
    {"high_school_mathematics", S},
    {"high_school_microeconomics", SS},
    {"high_school_physics", S},
    {"high_school_psychology", SS},
    {"high_school_statistics", S},
    {"high_school_us_history", H},
    {"high_school_world_history", H},
    {"human_aging", O},
    {"human_sexuality", SS},
    {"international_law", H},
    {"jurisprudence", H},
    {"logical_fallacies", H},
    {"machine_learning", S},
    {"management", O},
    {"marketing", O},
    {"medical_genetics", O},
    {"miscellaneous", O},
    {"moral_disputes", H},
    {"moral_scenarios", H},
    {"nutrition", O},
    {"philosophy", H},
    {"prehistory", H},
    {"professional_accounting", O},
    {"professional_law", H},
    {"professional_medicine", O},
    {"professional_psychology", SS},
    {"public_relations", SS},
    {"security_studies", SS},
    {"sociology", SS},
    {"us_foreign_policy", SS},
    {"virology", O},
    {"world_religions", H},
}};

constexpr std::array<char, 4> kLetters{'A', 'B', 'C', 'D'};

int argmax(const std::array<double, 4>& values) {
  int best = 0;
  for (int i = 1; i < 4; ++i)
    if (values[static_cast<size_t>(i)] > values[static_cast<size_t>(best)]) best = i;
  return best;
}

void add_to(MmluScore& score, const MmluResult& r) {
  ++score.questions;
  if (!r.error.empty()) {
    ++score.failed;
  } else if (r.prediction == r.answer) {
    ++score.correct;
  }
}

nlohmann::json score_json(const MmluScore& s) {
  return {{"accuracy", s.accuracy()},
          {"questions", s.questions},
          {"correct", s.correct},
          {"failed", s.failed}};
}

}  // namespace

std::string_view mmlu_category_name(MmluCategory category) {
  switch (category) {
    case MmluCategory::kStem:
      return "stem";
    case MmluCategory::kHumanities:
      return "humanities";
    case MmluCategory::kSocialSciences:
      return "social_sciences";
    case MmluCategory::kOther:
      return "other";
  }
  return "other";
}

std::optional<MmluCategory> mmlu_category(std::string_view subject) {
  for (const SubjectCategory& s : kSubjects)
    if (s.subject == subject) return s.category;
  return std::nullopt;
}

std::vector<std::string> mmlu_subjects() {
  std::vector<std::string> out;
  for (const SubjectCategory& s : kSubjects) out.emplace_back(s.subject);
  return out;
}

std::string mmlu_description(std::string_view subject) {
  std::string spaced(subject);
  std::replace(spaced.begin(), spaced.end(), '_', ' ');
  return fmt::format("The following are multiple choice questions (with answers) about {}.\n\n",
                     spaced);
}

std::string mmlu_question_text(const MmluQuestion& q) {
  return fmt::format("{}\nA. {}\nB. {}\nC. {}\nD. {}\nAnswer:", python_strip(q.question),
                     q.choices[0], q.choices[1], q.choices[2], q.choices[3]);
}

std::string mmlu_fewshot_prefix(std::string_view subject, std::span<const MmluQuestion> shots) {
  std::string prefix = mmlu_description(subject);
  for (const MmluQuestion& shot : shots)
    prefix += fmt::format("{} {}\n\n", mmlu_question_text(shot),
                          kLetters[static_cast<size_t>(shot.answer)]);
  return prefix;
}

std::vector<std::string> mmlu_continuations() {
  return {" A", " B", " C", " D"};
}

std::string mmlu_result_json(const MmluResult& r) {
  nlohmann::json j = {{"subject", r.subject},
                      {"index", r.index},
                      {"loglikelihoods", r.loglikelihoods},
                      {"prediction", r.prediction},
                      {"answer", r.answer},
                      {"correct", r.error.empty() && r.prediction == r.answer},
                      {"context_tokens", r.context_tokens},
                      {"error", r.error}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

MmluResult parse_mmlu_result(std::string_view line, std::string_view where) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) throw Error(fmt::format("{}: not a JSON object", where));
  try {
    MmluResult r;
    r.subject = j.at("subject").get<std::string>();
    r.index = j.at("index").get<int64_t>();
    r.loglikelihoods = j.at("loglikelihoods").get<std::array<double, 4>>();
    r.prediction = j.at("prediction").get<int>();
    r.answer = j.at("answer").get<int>();
    r.context_tokens = j.value("context_tokens", int64_t{0});
    r.error = j.value("error", std::string());
    return r;
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: {}", where, e.what()));
  }
}

void MmluSettings::validate() const {
  if (shots < 0) throw Error(fmt::format("--shots must be 0 or more, got {}", shots));
  if (limit < 0) throw Error(fmt::format("--limit must be 0 or more, got {}", limit));
}

void run_mmlu(const MmluSplits& splits, const Tokenizer& tokenizer, const MmluSettings& settings,
              LoglikelihoodBackend& backend, const std::set<std::pair<std::string, int64_t>>& done,
              const std::function<void(const MmluResult&)>& record) {
  settings.validate();
  std::vector<std::string> subjects = settings.subjects;
  if (subjects.empty())
    for (const auto& [subject, questions] : splits.test) subjects.push_back(subject);
  for (const std::string& subject : subjects)
    if (!splits.test.count(subject))
      throw Error(fmt::format("--subjects names '{}', which the test split does not have", subject),
                  "subjects are named as the files name them, e.g. high_school_biology");
  std::vector<std::string> continuations = mmlu_continuations();
  for (const std::string& subject : subjects) {
    // The subject's prefix: description and shots.
    auto dev = splits.dev.find(subject);
    size_t have = dev == splits.dev.end() ? 0 : dev->second.size();
    if (have < static_cast<size_t>(settings.shots))
      throw Error(fmt::format("subject {} has {} dev questions; --shots {} needs that many",
                              subject, have, settings.shots),
                  "lower --shots, or check the dev split");
    std::span<const MmluQuestion> shots;
    if (settings.shots > 0) shots = {dev->second.data(), static_cast<size_t>(settings.shots)};
    std::string prefix = mmlu_fewshot_prefix(subject, shots);

    // Its questions still to run, as requests.
    std::vector<const MmluQuestion*> todo;
    std::vector<LoglikelihoodRequest> requests;
    const std::vector<MmluQuestion>& test = splits.test.at(subject);
    size_t limit = settings.limit > 0 ? std::min(test.size(), static_cast<size_t>(settings.limit))
                                      : test.size();
    for (size_t i = 0; i < limit; ++i) {
      if (done.count({subject, test[i].index})) continue;
      todo.push_back(&test[i]);
      requests.push_back(make_loglikelihood_request(tokenizer, prefix + mmlu_question_text(test[i]),
                                                    continuations));
    }
    if (requests.empty()) continue;

    // One call per subject, so that a backend can share the prefix.
    backend.score(requests, [&](size_t i, const LoglikelihoodResult& scored) {
      MmluResult r;
      r.subject = subject;
      r.index = todo[i]->index;
      r.answer = todo[i]->answer;
      r.context_tokens = static_cast<int64_t>(requests[i].context.size());
      r.error = scored.error;
      if (r.error.empty() && scored.loglikelihoods.size() != 4)
        r.error = fmt::format("the backend returned {} log-likelihoods, expected 4",
                              scored.loglikelihoods.size());
      if (r.error.empty()) {
        std::copy(scored.loglikelihoods.begin(), scored.loglikelihoods.end(),
                  r.loglikelihoods.begin());
        r.prediction = argmax(r.loglikelihoods);
      }
      record(r);
    });
  }
}

MmluSummary summarize_mmlu(std::span<const MmluResult> results) {
  std::map<std::pair<std::string, int64_t>, const MmluResult*> latest;
  for (const MmluResult& r : results) latest[{r.subject, r.index}] = &r;
  MmluSummary summary;
  for (const auto& [key, r] : latest) {
    add_to(summary.overall, *r);
    add_to(summary.subjects[r->subject], *r);
    if (std::optional<MmluCategory> c = mmlu_category(r->subject))
      add_to(summary.categories[std::string(mmlu_category_name(*c))], *r);
  }
  return summary;
}

nlohmann::json mmlu_summary_json(const MmluSummary& summary) {
  nlohmann::json j = score_json(summary.overall);
  j["categories"] = nlohmann::json::object();
  for (const auto& [name, score] : summary.categories) j["categories"][name] = score_json(score);
  j["subjects"] = nlohmann::json::object();
  for (const auto& [name, score] : summary.subjects) j["subjects"][name] = score_json(score);
  return j;
}

}  // namespace longctx
