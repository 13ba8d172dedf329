// A fake OpenAI-compatible server for tests of the HTTP client and of evaluations that use it:
// /v1/completions and /v1/chat/completions on a free localhost port, served by cpp-httplib from
// a background thread. The reply's text is respond(prompt) (for chat, the last message's
// content); usage.prompt_tokens is the number of whitespace-separated words of the prompt.
// Failures and slowness are injected: fail_next(2, 503) makes the next two requests answer
// HTTP 503 with {"error": {"message": "injected failure (HTTP 503)"}}; delay_ms(300) makes
// every request wait 300 ms before answering. A prompt of token ids (a list of lists, as
// lm-evaluation-harness sends) gets one choice per list; with "echo" and "logprobs" each choice
// carries logprobs.token_logprobs: null for the first id, token_logprob(ids, i, choice) for
// the others, then -0.5 for the one generated token.
//
//   FakeOpenAIServer server([](const std::string& prompt) { return "echo: " + prompt; });
//   OpenAIClient client({.url = server.url()});
//   EXPECT_EQ(client.complete({.prompt = "hi"}).text, "echo: hi");
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace longctx::testing {

class FakeOpenAIServer {
 public:
  explicit FakeOpenAIServer(std::function<std::string(const std::string& prompt)> respond);
  ~FakeOpenAIServer();  // stops the server; delayed requests are cut short
  FakeOpenAIServer(const FakeOpenAIServer&) = delete;
  FakeOpenAIServer& operator=(const FakeOpenAIServer&) = delete;

  int port() const;
  std::string url() const;  // "http://127.0.0.1:PORT"

  // The log-probability of ids[position] in choice `choice` of a token-id prompt (default -1).
  using TokenLogprob =
      std::function<double(const std::vector<int32_t>& ids, size_t position, size_t choice)>;
  void set_token_logprob(TokenLogprob token_logprob);

  void fail_next(int count, int status);  // the next `count` requests get HTTP `status`
  void delay_ms(int milliseconds);        // every later request waits this long first

  int requests() const;           // requests received, failed ones included
  int max_in_flight() const;      // most requests being handled at once so far
  std::string last_body() const;  // the last request's body, as received
  std::string last_path() const;  // "/v1/completions" or "/v1/chat/completions"

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace longctx::testing
