#include "longctx/eval/openai_client.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "longctx/base/error.h"

namespace longctx {
namespace {

using Clock = std::chrono::steady_clock;

// curl_global_init is not thread-safe: run it once, before any handle exists.
void init_curl_once() {
  static std::once_flag flag;
  std::call_once(flag, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw Error("curl_global_init failed", "check the libcurl installation");
    }
  });
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

size_t append_to_string(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

// A local server is never behind a proxy: bypass it for loopback, keeping the user's no_proxy.
std::string no_proxy_hosts() {
  std::string hosts = "localhost,127.0.0.1,::1";
  for (const char* name : {"no_proxy", "NO_PROXY"}) {
    if (const char* value = std::getenv(name); value != nullptr && *value != '\0') {
      return hosts + "," + value;
    }
  }
  return hosts;
}

std::string request_body(const EndpointOptions& options, const CompletionRequest& request) {
  nlohmann::json body;
  if (!options.model.empty()) body["model"] = options.model;
  if (options.chat) {
    body["messages"] = nlohmann::json::array({{{"role", "user"}, {"content", request.prompt}}});
  } else if (!request.prompt_token_ids.empty()) {
    body["prompt"] = request.prompt_token_ids;
  } else {
    body["prompt"] = request.prompt;
  }
  body["max_tokens"] = request.max_tokens;
  body["temperature"] = request.temperature;
  if (!request.stop.empty()) body["stop"] = request.stop;
  if (request.echo) body["echo"] = true;
  if (request.logprobs >= 0) body["logprobs"] = request.logprobs;
  return body.dump();
}

// One attempt's outcome: `retry` says whether another attempt may succeed.
struct Attempt {
  bool ok = false;
  bool retry = false;
  std::string text;
  std::string error;
  int64_t prompt_tokens = -1;
  std::vector<std::vector<double>> token_logprobs;
};

// The server's own explanation: {"error": {"message": ...}} (OpenAI, vLLM), {"error": "..."}
// or {"detail": ...} (some FastAPI servers); else the start of the body.
std::string server_message(const std::string& body) {
  nlohmann::json json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_object()) {
    auto error = json.find("error");
    if (error != json.end()) {
      if (error->is_object() && error->contains("message") && (*error)["message"].is_string()) {
        return (*error)["message"].get<std::string>();
      }
      if (error->is_string()) return error->get<std::string>();
    }
    auto detail = json.find("detail");
    if (detail != json.end())
      return detail->is_string() ? detail->get<std::string>() : detail->dump();
  }
  constexpr size_t kMaxChars = 200;
  return body.size() > kMaxChars ? body.substr(0, kMaxChars) + "..." : body;
}

// Every choice's logprobs.token_logprobs, in index order; false when one is missing.
bool parse_token_logprobs(const nlohmann::json& choices, std::vector<std::vector<double>>& out) {
  std::vector<std::pair<int64_t, std::vector<double>>> indexed;
  for (const nlohmann::json& choice : choices) {
    if (!choice.is_object() || !choice.contains("logprobs") || !choice["logprobs"].is_object())
      return false;
    const nlohmann::json& list = choice["logprobs"].value("token_logprobs", nlohmann::json());
    if (!list.is_array()) return false;
    std::vector<double> values;
    for (const nlohmann::json& v : list)
      values.push_back(v.is_number() ? v.get<double>() : std::nan(""));
    int64_t index = choice.contains("index") && choice["index"].is_number_integer()
                        ? choice["index"].get<int64_t>()
                        : static_cast<int64_t>(indexed.size());
    indexed.emplace_back(index, std::move(values));
  }
  std::stable_sort(indexed.begin(), indexed.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  out.clear();
  for (auto& [index, values] : indexed) out.push_back(std::move(values));
  return true;
}

Attempt parse_response(const std::string& body, bool chat, bool logprobs,
                       const std::string& endpoint) {
  Attempt attempt;
  nlohmann::json json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  const char* field = chat ? "choices[0].message.content" : "choices[0].text";
  if (!json.is_object() || !json.contains("choices") || !json["choices"].is_array() ||
      json["choices"].empty()) {
    attempt.error =
        fmt::format("response from {} has no {}: {}", endpoint, field, server_message(body));
    return attempt;
  }
  const nlohmann::json& choice = json["choices"][0];
  const nlohmann::json* text = nullptr;
  if (chat && choice.contains("message") && choice["message"].is_object() &&
      choice["message"].contains("content")) {
    text = &choice["message"]["content"];
  } else if (!chat && choice.contains("text")) {
    text = &choice["text"];
  }
  if (text == nullptr || !(text->is_string() || text->is_null())) {
    attempt.error =
        fmt::format("response from {} has no {}: {}", endpoint, field, server_message(body));
    return attempt;
  }
  if (logprobs && !parse_token_logprobs(json["choices"], attempt.token_logprobs)) {
    attempt.error = fmt::format("response from {} has no choices[].logprobs.token_logprobs: {}",
                                endpoint, server_message(body));
    return attempt;
  }
  attempt.ok = true;
  attempt.text = text->is_string() ? text->get<std::string>() : "";  // null content: no text
  if (json.contains("usage") && json["usage"].is_object() &&
      json["usage"].contains("prompt_tokens") && json["usage"]["prompt_tokens"].is_number()) {
    attempt.prompt_tokens = json["usage"]["prompt_tokens"].get<int64_t>();
  }
  return attempt;
}

bool retryable(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// One request's connection and headers, reused across its retries.
class Connection {
 public:
  Connection(const EndpointOptions& options, const std::string& endpoint, const std::string& body)
      : curl_(curl_easy_init()) {
    if (!curl_) throw Error("curl_easy_init failed", "check the libcurl installation");
    headers_.reset(append(nullptr, "Content-Type: application/json"));
    // Without this curl waits for "100 Continue" before sending a long prompt (over 1 MiB).
    headers_.reset(append(headers_.release(), "Expect:"));
    if (!options.api_key.empty()) {
      headers_.reset(append(headers_.release(), "Authorization: Bearer " + options.api_key));
    }
    CURL* curl = curl_.get();
    curl_easy_setopt(curl, CURLOPT_URL, endpoint.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers_.get());
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_to_string);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response_);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer_);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // signals are not thread-safe
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(std::ceil(options.timeout_seconds * 1000)));
    curl_easy_setopt(curl, CURLOPT_NOPROXY, no_proxy_.c_str());
  }

  // Sends the request once: `status` is the HTTP status (0 when none came), `response` the body.
  CURLcode perform(long& status, std::string& response) {
    response_.clear();
    error_buffer_[0] = '\0';
    CURLcode code = curl_easy_perform(curl_.get());
    status = 0;
    curl_easy_getinfo(curl_.get(), CURLINFO_RESPONSE_CODE, &status);
    response = std::move(response_);
    return code;
  }

  // curl's detailed message for the last failure, or its generic one.
  std::string error_text(CURLcode code) const {
    return error_buffer_[0] != '\0' ? std::string(error_buffer_) : curl_easy_strerror(code);
  }

 private:
  static curl_slist* append(curl_slist* list, const std::string& header) {
    curl_slist* appended = curl_slist_append(list, header.c_str());
    if (appended == nullptr) {
      curl_slist_free_all(list);
      throw Error("curl_slist_append failed: out of memory");
    }
    return appended;
  }

  std::unique_ptr<CURL, CurlDeleter> curl_;
  std::unique_ptr<curl_slist, SlistDeleter> headers_;
  std::string no_proxy_ = no_proxy_hosts();
  std::string response_;
  char error_buffer_[CURL_ERROR_SIZE] = {};
};

Attempt attempt_once(Connection& connection, const EndpointOptions& options,
                     const std::string& endpoint, bool logprobs) {
  long status = 0;
  std::string response;
  CURLcode code = connection.perform(status, response);
  Attempt attempt;
  if (code == CURLE_OPERATION_TIMEDOUT) {
    attempt.retry = true;
    attempt.error = fmt::format("POST {} timed out after {} s (timeout_seconds): {}", endpoint,
                                options.timeout_seconds, connection.error_text(code));
    return attempt;
  }
  if (code != CURLE_OK) {
    attempt.retry = retryable(code);
    attempt.error = fmt::format("POST {} failed: {}", endpoint, connection.error_text(code));
    return attempt;
  }
  if (status != 200) {
    attempt.retry = status == 429 || status >= 500;
    attempt.error = fmt::format("HTTP {} from {}: {}", status, endpoint, server_message(response));
    return attempt;
  }
  return parse_response(response, options.chat, logprobs, endpoint);
}

}  // namespace

void EndpointOptions::validate() const {
  if (url.empty()) {
    throw Error("endpoint url is empty", "pass the server's base URL, e.g. http://localhost:8000");
  }
  if (!starts_with(url, "http://") && !starts_with(url, "https://")) {
    throw Error(fmt::format("endpoint url '{}' is not http:// or https://", url),
                "pass the server's base URL, e.g. http://localhost:8000");
  }
  if (!(timeout_seconds > 0)) {
    throw Error(fmt::format("endpoint timeout_seconds must be > 0, got {}", timeout_seconds));
  }
  if (retries < 0) throw Error(fmt::format("endpoint retries must be >= 0, got {}", retries));
  if (!(retry_backoff_seconds >= 0)) {
    throw Error(
        fmt::format("endpoint retry_backoff_seconds must be >= 0, got {}", retry_backoff_seconds));
  }
  if (concurrency < 1) {
    throw Error(fmt::format("endpoint concurrency must be >= 1, got {}", concurrency));
  }
}

OpenAIClient::OpenAIClient(EndpointOptions options) : options_(std::move(options)) {
  options_.validate();
  init_curl_once();
  if (options_.api_key.empty()) {
    if (const char* key = std::getenv("OPENAI_API_KEY"); key != nullptr) options_.api_key = key;
  }
  // "http://host:8000", "http://host:8000/" and "http://host:8000/v1" all mean the same server.
  std::string base = options_.url;
  while (ends_with(base, "/")) base.pop_back();
  if (!ends_with(base, "/v1")) base += "/v1";
  endpoint_ = base + (options_.chat ? "/chat/completions" : "/completions");
}

CompletionResult OpenAIClient::complete(const CompletionRequest& request) const {
  Clock::time_point start = Clock::now();
  std::string body = request_body(options_, request);
  Connection connection(options_, endpoint_, body);
  CompletionResult result;
  for (int attempt_index = 0;; ++attempt_index) {
    if (attempt_index > 0) {
      double wait_seconds = options_.retry_backoff_seconds * std::pow(2.0, attempt_index - 1);
      std::this_thread::sleep_for(std::chrono::duration<double>(wait_seconds));
    }
    Attempt attempt = attempt_once(connection, options_, endpoint_, request.logprobs >= 0);
    result.attempts = attempt_index + 1;
    if (attempt.ok) {
      result.ok = true;
      result.text = std::move(attempt.text);
      result.prompt_tokens = attempt.prompt_tokens;
      result.token_logprobs = std::move(attempt.token_logprobs);
      break;
    }
    if (!attempt.retry || attempt_index == options_.retries) {
      result.error = attempt.retry ? fmt::format("{} (gave up after {} attempts)", attempt.error,
                                                 result.attempts)
                                   : attempt.error;
      break;
    }
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

std::vector<CompletionResult> OpenAIClient::complete_all(
    const std::vector<CompletionRequest>& requests,
    const std::function<void(size_t index, const CompletionResult& result)>& on_done) const {
  std::vector<CompletionResult> results(requests.size());
  std::atomic<size_t> next{0};
  std::mutex mutex;            // serialises on_done and guards `failure`
  std::exception_ptr failure;  // an exception from on_done (or curl setup): rethrown here
  auto work = [&] {
    try {
      for (size_t i = next++; i < requests.size(); i = next++) {
        results[i] = complete(requests[i]);
        if (on_done) {
          std::lock_guard lock(mutex);
          on_done(i, results[i]);
        }
      }
    } catch (...) {
      next = requests.size();  // the other workers stop after their current request
      std::lock_guard lock(mutex);
      if (!failure) failure = std::current_exception();
    }
  };
  size_t thread_count = std::min(requests.size(), static_cast<size_t>(options_.concurrency));
  std::vector<std::thread> threads;
  for (size_t t = 1; t < thread_count; ++t) threads.emplace_back(work);
  work();  // this thread is one of the workers
  for (std::thread& thread : threads) thread.join();
  if (failure) std::rethrow_exception(failure);
  return results;
}

}  // namespace longctx
