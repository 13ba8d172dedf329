// A client for any OpenAI-compatible completion server (vLLM, SGLang, llama.cpp's server,
// TGI, OpenAI itself), so that the needle test can run against a served model (issue 7).
// It POSTs JSON to {url}/v1/completions, or {url}/v1/chat/completions with `chat`, over
// libcurl; retries connection errors, timeouts, HTTP 429 and 5xx with exponential backoff;
// fails at once on other 4xx. A failed request never throws: it returns ok = false with an
// error naming the HTTP status and the server's "error.message". Only bad options throw.
//
//   OpenAIClient client({.url = "http://localhost:8000", .model = "llama-3-8b-128k"});
//   CompletionResult r = client.complete({.prompt = haystack, .max_tokens = 32});
//   if (!r.ok) log(r.error);
//   std::vector<CompletionResult> all = client.complete_all(requests, [](size_t i, auto& r) {
//     progress.add(1);  // called once per request, as each finishes, never two at once
//   });
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace longctx {

struct EndpointOptions {
  // Server base, "http://host:port" (or ".../v1": the client does not repeat /v1). http or
  // https only.
  std::string url;
  // The served model's name; left out of the request when empty (llama.cpp's server needs none).
  std::string model;
  // Sent as "Authorization: Bearer <key>". Empty: the environment's OPENAI_API_KEY, read when
  // the client is made; no header when that is unset too.
  std::string api_key;
  bool chat = false;  // /v1/chat/completions with one user message instead of /v1/completions
  double timeout_seconds = 600;        // per attempt, connect to last byte
  int retries = 3;                     // further attempts after the first; 0 = one attempt only
  double retry_backoff_seconds = 1.0;  // wait before retry k (1-based) is backoff * 2^(k-1)
  int concurrency = 4;                 // complete_all's requests in flight at once

  // Throws Error naming the bad field and its value.
  void validate() const;
};

struct CompletionRequest {
  std::string prompt;
  // When not empty (completions only), sent as "prompt" instead of the text: a batch of
  // prompts as token ids, one choice each (vLLM, SGLang and llama.cpp's server take them).
  std::vector<std::vector<int32_t>> prompt_token_ids;
  int max_tokens = 50;
  double temperature = 0;
  std::vector<std::string> stop;  // left out of the request when empty
  bool echo = false;              // "echo": the prompt comes back, with logprobs its tokens'
  int logprobs = -1;              // "logprobs" when >= 0 (completions only)
};

struct CompletionResult {
  bool ok = false;
  std::string text;    // choices[0].text, or choices[0].message.content with chat
  std::string error;   // when !ok: "HTTP 400 from http://...: <error.message>", a curl error, ...
  int attempts = 0;    // 1 + retries used
  double seconds = 0;  // wall time of all attempts and the waits between them
  int64_t prompt_tokens = -1;  // usage.prompt_tokens of the response, -1 when absent
  // With logprobs >= 0: choices[i].logprobs.token_logprobs of every choice in index order
  // (with echo the prompt's tokens first, then the generated ones); null (the first prompt
  // token's) as NaN. A response without them is a failed request.
  std::vector<std::vector<double>> token_logprobs;
};

class OpenAIClient {
 public:
  // Validates the options (throws Error) and resolves the endpoint URL and API key.
  explicit OpenAIClient(EndpointOptions options);

  // One request, with retries. Thread-safe: each call uses its own connection.
  CompletionResult complete(const CompletionRequest& request) const;

  // All requests, up to options.concurrency at once; results in request order. on_done (if
  // set) is called as each request finishes, from a worker thread, one call at a time. An
  // exception thrown by on_done stops the run and is rethrown here once the workers have stopped.
  std::vector<CompletionResult> complete_all(
      const std::vector<CompletionRequest>& requests,
      const std::function<void(size_t index, const CompletionResult& result)>& on_done = {}) const;

  const EndpointOptions& options() const { return options_; }
  const std::string& endpoint() const { return endpoint_; }  // the URL requests go to

 private:
  EndpointOptions options_;
  std::string endpoint_;
};

}  // namespace longctx
