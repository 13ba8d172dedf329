// Needle in a haystack: grid, haystack and cells (see needle.h; scorers and results are in
// needle_scoring.cpp).
#include "longctx/eval/needle.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "longctx/base/error.h"
#include "longctx/base/files.h"
#include "longctx/base/text.h"

namespace longctx {
namespace {

constexpr std::string_view kContextField = "{context}";
constexpr std::string_view kQuestionField = "{question}";
constexpr std::string_view kPasskeyFiller =
    "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";
constexpr int kPasskeyFillerCopies = 64;  // ~1.6K tokens, repeated by Haystack::tokens()
// Keys of the multi-needle task, drawn without replacement per cell.
constexpr std::array<std::string_view, 16> kMagicKeys = {
    "apple",  "river",  "violet",  "anchor", "lantern", "meadow",  "falcon", "copper",
    "harbor", "pepper", "glacier", "walnut", "saffron", "thunder", "velvet", "orchid"};

// ---- small helpers ----

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (size_t pos = text.find(from); pos != std::string::npos;
       pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

size_t count_occurrences(std::string_view text, std::string_view what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != std::string_view::npos;
       pos = text.find(what, pos + what.size())) {
    ++n;
  }
  return n;
}

// SplitMix64: a fixed, portable generator (std distributions differ between libraries).
uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

class CellRandom {
 public:
  CellRandom(uint64_t seed, int64_t length, double depth)
      : state_(splitmix64(splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(length)) ^
                          std::bit_cast<uint64_t>(depth))) {}
  uint64_t next() { return state_ = splitmix64(state_); }
  uint64_t below(uint64_t n) { return next() % n; }

 private:
  uint64_t state_;
};

// ---- number lists ----

double parse_double(std::string_view item, std::string_view flag, std::string_view text) {
  double value = 0;
  auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
  if (item.empty() || ec != std::errc() || end != item.data() + item.size() ||
      !std::isfinite(value)) {
    throw Error(fmt::format("{}: \"{}\" in \"{}\" is not a number", flag, item, text),
                "pass a comma-separated list (1000,2000) or linspace:START:STOP:NUM");
  }
  return value;
}

// round(np.linspace(start, stop, num)) as doubles.
std::vector<double> parse_linspace(std::string_view item, std::string_view flag,
                                   std::string_view text) {
  std::vector<std::string> parts = split(item.substr(std::string_view("linspace:").size()), ':');
  if (parts.size() != 3) {
    throw Error(fmt::format("{}: \"{}\" is not linspace:START:STOP:NUM", flag, text),
                "e.g. linspace:1000:128000:40");
  }
  double start = parse_double(trim_ascii_space(parts[0]), flag, text);
  double stop = parse_double(trim_ascii_space(parts[1]), flag, text);
  std::string_view num_text = trim_ascii_space(parts[2]);
  int64_t num = 0;
  auto [end, ec] = std::from_chars(num_text.data(), num_text.data() + num_text.size(), num);
  if (num_text.empty() || ec != std::errc() || end != num_text.data() + num_text.size() ||
      num < 1 || num > 100000) {
    throw Error(
        fmt::format("{}: NUM \"{}\" in \"{}\" is not a count in [1, 100000]", flag, num_text, text),
        "e.g. linspace:1000:128000:40");
  }
  // numpy: step = (stop - start) / (num - 1); y[i] = i * step + start; y[-1] = stop.
  std::vector<double> values;
  double step = num > 1 ? (stop - start) / static_cast<double>(num - 1) : 0.0;
  for (int64_t i = 0; i < num; ++i) values.push_back(static_cast<double>(i) * step + start);
  if (num > 1) values.back() = stop;
  for (double& v : values) v = std::nearbyint(v);  // half to even, as np.round
  return values;
}

std::vector<double> parse_list(std::string_view text, std::string_view flag, bool whole) {
  std::string_view body = trim_ascii_space(text);
  if (body.starts_with("linspace:")) return parse_linspace(body, flag, text);
  std::vector<double> values;
  for (const std::string& part : split(body, ',')) {
    std::string_view item = trim_ascii_space(part);
    double value = parse_double(item, flag, text);
    if (whole && (value != std::floor(value) || std::fabs(value) > 9e15 ||
                  item.find_first_of(".eE") != std::string_view::npos)) {
      throw Error(fmt::format("{}: \"{}\" in \"{}\" is not a whole number", flag, item, text),
                  "pass whole numbers, e.g. 1000,2000");
    }
    values.push_back(value);
  }
  if (values.empty()) throw Error(fmt::format("{}: the list is empty", flag));
  return values;
}

}  // namespace

// ---- tasks and grid ----

std::string_view needle_task_name(NeedleTask task) {
  switch (task) {
    case NeedleTask::kNeedle:
      return "needle";
    case NeedleTask::kPasskey:
      return "passkey";
    case NeedleTask::kMultiNeedle:
      return "multi-needle";
  }
  return "?";
}

NeedleTask parse_needle_task(std::string_view text) {
  for (NeedleTask task : {NeedleTask::kNeedle, NeedleTask::kPasskey, NeedleTask::kMultiNeedle}) {
    if (text == needle_task_name(task)) return task;
  }
  throw Error(fmt::format("--task: \"{}\" is not a task", text),
              "use needle, passkey or multi-needle");
}

std::vector<int64_t> default_needle_lengths() {
  return parse_int_list("linspace:1000:128000:40", "--lengths");
}

std::vector<double> default_needle_depths() {
  return parse_number_list("linspace:0:100:10", "--depths");
}

std::vector<int64_t> parse_int_list(std::string_view text, std::string_view flag) {
  std::vector<int64_t> values;
  for (double v : parse_list(text, flag, /*whole=*/true)) values.push_back(static_cast<int64_t>(v));
  return values;
}

std::vector<double> parse_number_list(std::string_view text, std::string_view flag) {
  return parse_list(text, flag, /*whole=*/false);
}

void NeedleSettings::validate() const {
  if (lengths_tokens.empty()) throw Error("needle settings: lengths_tokens is empty");
  if (depths_percent.empty()) throw Error("needle settings: depths_percent is empty");
  if (reserve_tokens < 0) {
    throw Error(
        fmt::format("needle settings: reserve_tokens is {}, expected >= 0", reserve_tokens));
  }
  for (int64_t length : lengths_tokens) {
    if (length <= reserve_tokens) {
      throw Error(fmt::format("needle settings: length {} is not above reserve_tokens ({})", length,
                              reserve_tokens),
                  "every length must leave room for the haystack and the needle");
    }
  }
  for (double depth : depths_percent) {
    if (!(depth >= 0 && depth <= 100)) {
      throw Error(fmt::format("needle settings: depth {} is outside [0, 100] percent", depth));
    }
  }
  if (max_new_tokens <= 0) {
    throw Error(fmt::format("needle settings: max_new_tokens is {}, expected > 0", max_new_tokens));
  }
  if (task == NeedleTask::kNeedle && (needle.empty() || answer.empty() || question.empty())) {
    throw Error("needle settings: needle, question and answer must not be empty");
  }
  if (size_t n = count_occurrences(prompt_template, kContextField); n != 1) {
    throw Error(
        fmt::format("needle settings: prompt_template has {} {{context}} fields, expected 1", n));
  }
  if (multi_needle_count < 1 || multi_needle_count > static_cast<int>(kMagicKeys.size())) {
    throw Error(fmt::format("needle settings: multi_needle_count is {}, expected 1..{}",
                            multi_needle_count, kMagicKeys.size()));
  }
}

nlohmann::json needle_settings_json(const NeedleSettings& settings) {
  return {{"task", needle_task_name(settings.task)},
          {"lengths_tokens", settings.lengths_tokens},
          {"depths_percent", settings.depths_percent},
          {"needle", settings.needle},
          {"question", settings.question},
          {"answer", settings.answer},
          {"prompt_template", settings.prompt_template},
          {"reserve_tokens", settings.reserve_tokens},
          {"max_new_tokens", settings.max_new_tokens},
          {"multi_needle_count", settings.multi_needle_count},
          {"multi_needle_question",
           settings.multi_needle_question == MultiNeedleQuestion::kAllKeys ? "all" : "one"},
          {"seed", settings.seed}};
}

// ---- haystack ----

struct Haystack::Cache {
  std::mutex mutex;
  const Tokenizer* tokenizer = nullptr;
  std::string description;  // with the pointer, so that a new tokenizer at an old address misses
  std::vector<int32_t> ids;
};

Haystack::Haystack(std::string text) : text_(std::move(text)), cache_(std::make_shared<Cache>()) {}

Haystack Haystack::from_text(std::string text) {
  if (text.empty()) throw Error("the needle haystack is empty", "pass files with text in them");
  return Haystack(std::move(text));
}

Haystack Haystack::from_paths(const std::vector<std::filesystem::path>& paths) {
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  for (const fs::path& path : paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<fs::path> found;
      for (const fs::directory_entry& entry : fs::recursive_directory_iterator(path)) {
        if (entry.is_regular_file()) found.push_back(entry.path());
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(path, ec)) {
      files.push_back(path);
    } else {
      throw Error(fmt::format("haystack {}: not a file or directory", path.string()),
                  "pass text files or a directory of them (e.g. Paul Graham's essays)");
    }
  }
  std::string text;
  for (const fs::path& file : files) {
    text += read_file(file);
    if (!text.empty() && text.back() != '\n') text += '\n';
  }
  if (text.empty()) {
    throw Error(fmt::format("the needle haystack is empty ({} files)", files.size()),
                "pass files with text in them");
  }
  return Haystack(std::move(text));
}

std::vector<int32_t> Haystack::tokens(const Tokenizer& tokenizer, int64_t n) const {
  if (n < 0) throw Error(fmt::format("haystack tokens: n is {}, expected >= 0", n));
  std::vector<int32_t> ids;
  {
    std::lock_guard<std::mutex> lock(cache_->mutex);
    if (cache_->tokenizer != &tokenizer || cache_->description != tokenizer.description()) {
      cache_->ids = tokenizer.encode(text_);
      cache_->tokenizer = &tokenizer;
      cache_->description = tokenizer.description();
    }
    if (cache_->ids.empty()) {
      throw Error(fmt::format("the needle haystack ({} bytes) encodes to no tokens", text_.size()));
    }
    const std::vector<int32_t>& once = cache_->ids;
    ids.reserve(static_cast<size_t>(n));
    while (static_cast<int64_t>(ids.size()) < n) {
      size_t take = std::min(once.size(), static_cast<size_t>(n) - ids.size());
      ids.insert(ids.end(), once.begin(), once.begin() + static_cast<std::ptrdiff_t>(take));
    }
  }
  return ids;
}

// ---- cells ----

std::vector<int32_t> period_token_ids(const Tokenizer& tokenizer) {
  return tokenizer.encode(".");
}

int64_t needle_insertion_point(std::span<const int32_t> context_ids, double depth_percent,
                               std::span<const int32_t> period_ids) {
  // Python: int(len(tokens_context) * (depth_percent / 100)), truncating toward zero.
  auto insertion =
      static_cast<int64_t>(static_cast<double>(context_ids.size()) * (depth_percent / 100.0));
  insertion = std::clamp<int64_t>(insertion, 0, static_cast<int64_t>(context_ids.size()));
  while (insertion > 0 &&
         std::find(period_ids.begin(), period_ids.end(),
                   context_ids[static_cast<size_t>(insertion - 1)]) == period_ids.end()) {
    --insertion;
  }
  return insertion;
}

std::pair<std::string, std::string> split_template(const NeedleSettings& settings) {
  return split_template(settings, settings.question);
}

std::pair<std::string, std::string> split_template(const NeedleSettings& settings,
                                                   std::string_view question) {
  const std::string& tmpl = settings.prompt_template;
  size_t pos = tmpl.find(kContextField);
  if (pos == std::string::npos) {
    throw Error("needle settings: prompt_template has no {context} field",
                "e.g. \"<book> {context} </book> Question: {question}\"");
  }
  return {replace_all(tmpl.substr(0, pos), kQuestionField, question),
          replace_all(tmpl.substr(pos + kContextField.size()), kQuestionField, question)};
}

NeedleCell make_needle_cell(const NeedleSettings& settings, const Tokenizer& tokenizer,
                            const Haystack& haystack, int64_t length_tokens, double depth_percent) {
  if (!(depth_percent >= 0 && depth_percent <= 100)) {
    throw Error(fmt::format("needle cell: depth {} is outside [0, 100] percent", depth_percent));
  }
  NeedleCell cell{.length = length_tokens, .depth = depth_percent};

  // What to hide, where, and what to ask.
  std::vector<std::string> needles;
  std::vector<double> depths;
  const Haystack* filler = &haystack;
  std::optional<Haystack> passkey_filler;
  CellRandom random(settings.seed, length_tokens, depth_percent);
  switch (settings.task) {
    case NeedleTask::kNeedle:
      needles = {settings.needle};
      depths = {depth_percent};
      cell.question = settings.question;
      cell.expected = settings.answer;
      break;
    case NeedleTask::kPasskey: {
      std::string key = std::to_string(10000 + random.below(90000));
      needles = {fmt::format("\nThe pass key is {0}. Remember it. {0} is the pass key.\n", key)};
      depths = {depth_percent};
      std::string text(kPasskeyFiller);
      for (int i = 1; i < kPasskeyFillerCopies; ++i) text += fmt::format(" {}", kPasskeyFiller);
      passkey_filler = Haystack::from_text(std::move(text));
      filler = &*passkey_filler;
      cell.question = "What is the pass key?";
      cell.expected = key;
      break;
    }
    case NeedleTask::kMultiNeedle: {
      int k_needles = settings.multi_needle_count;
      if (k_needles < 1 || k_needles > static_cast<int>(kMagicKeys.size())) {
        throw Error(fmt::format("needle settings: multi_needle_count is {}, expected 1..{}",
                                k_needles, kMagicKeys.size()));
      }
      std::vector<std::string_view> keys(kMagicKeys.begin(), kMagicKeys.end());
      std::vector<std::string> values;
      for (int k = 0; k < k_needles; ++k) {  // partial Fisher-Yates: distinct keys
        std::swap(
            keys[static_cast<size_t>(k)],
            keys[static_cast<size_t>(k) + random.below(keys.size() - static_cast<size_t>(k))]);
        values.push_back(std::to_string(1000000 + random.below(9000000)));
        needles.push_back(fmt::format("\nThe special magic number for {} is {}.\n",
                                      keys[static_cast<size_t>(k)], values.back()));
        depths.push_back(depth_percent + k * (100.0 - depth_percent) / k_needles);
      }
      if (settings.multi_needle_question == MultiNeedleQuestion::kOneKey) {
        size_t asked = random.below(static_cast<uint64_t>(k_needles));
        cell.question = fmt::format("What is the special magic number for {}?", keys[asked]);
        cell.expected = values[asked];
      } else {
        std::string list(keys[0]);
        for (int k = 1; k < k_needles; ++k) {
          list += fmt::format("{}{}", k + 1 == k_needles ? " and " : ", ",
                              keys[static_cast<size_t>(k)]);
        }
        cell.question = fmt::format("What are the special magic numbers for {}?", list);
        cell.expected = fmt::format("{}", fmt::join(values, " "));
      }
      break;
    }
  }

  // Budget: the context plus the needles fill length - reserve_tokens.
  std::vector<std::vector<int32_t>> needle_ids;
  int64_t needle_tokens = 0;
  for (const std::string& needle : needles) {
    needle_ids.push_back(tokenizer.encode(needle));
    needle_tokens += static_cast<int64_t>(needle_ids.back().size());
  }
  int64_t budget = length_tokens - settings.reserve_tokens;
  if (budget - needle_tokens <= 0) {
    throw Error(fmt::format("needle cell: length {} leaves {} tokens after reserving {}, too few "
                            "for the needle ({} tokens) and any haystack",
                            length_tokens, budget, settings.reserve_tokens, needle_tokens),
                fmt::format("use lengths above {}", settings.reserve_tokens + needle_tokens));
  }
  std::vector<int32_t> context = filler->tokens(tokenizer, budget - needle_tokens);

  // Insertion points, all in the needle-free context; nondecreasing because depths are.
  std::vector<int32_t> periods = period_token_ids(tokenizer);
  std::vector<int64_t> points;
  for (double depth : depths) {
    points.push_back(depth >= 100 ? static_cast<int64_t>(context.size())
                                  : needle_insertion_point(context, depth, periods));
  }
  // context [c0 c1 c2 c3], points {1, 3}: [c0 | n0 | c1 c2 | n1 | c3]
  int64_t copied = 0;
  for (size_t k = 0; k < needles.size(); ++k) {
    cell.context_ids.insert(cell.context_ids.end(), context.begin() + copied,
                            context.begin() + points[k]);
    copied = points[k];
    cell.needle_starts.push_back(static_cast<int64_t>(cell.context_ids.size()));
    cell.context_ids.insert(cell.context_ids.end(), needle_ids[k].begin(), needle_ids[k].end());
  }
  cell.context_ids.insert(cell.context_ids.end(), context.begin() + copied, context.end());
  cell.needle_start = cell.needle_starts.front();

  auto [prefix, suffix] = split_template(settings, cell.question);
  cell.prompt = prefix + tokenizer.decode(cell.context_ids) + suffix;
  return cell;
}

}  // namespace longctx
