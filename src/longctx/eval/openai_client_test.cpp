#include "longctx/eval/openai_client.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "longctx/base/error.h"
#include "support/fake_openai_server.h"

namespace longctx {
namespace {

using testing::FakeOpenAIServer;

std::string upper(const std::string& prompt) {
  std::string text = prompt;
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

// Short waits everywhere so that the whole suite runs in about a second.
EndpointOptions fast_options(const std::string& url) {
  return {.url = url,
          .model = "fake-model",
          .api_key = "test-key",
          .timeout_seconds = 2,
          .retries = 3,
          .retry_backoff_seconds = 0.01};
}

TEST(OpenAIClient, CompletionsRoundTrip) {
  FakeOpenAIServer server(upper);
  OpenAIClient client(fast_options(server.url()));
  EXPECT_EQ(client.endpoint(), server.url() + "/v1/completions");
  CompletionResult result =
      client.complete({.prompt = "the needle is 42", .max_tokens = 7, .stop = {"\n"}});
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.text, "THE NEEDLE IS 42");
  EXPECT_EQ(result.attempts, 1);
  EXPECT_EQ(result.prompt_tokens, 4);
  EXPECT_GT(result.seconds, 0);
  EXPECT_EQ(server.last_path(), "/v1/completions");
  nlohmann::json body = nlohmann::json::parse(server.last_body());
  EXPECT_EQ(body, nlohmann::json::parse(R"({"model": "fake-model", "prompt": "the needle is 42",
      "max_tokens": 7, "temperature": 0.0, "stop": ["\n"]})"));
}

TEST(OpenAIClient, ChatRoundTrip) {
  FakeOpenAIServer server(upper);
  EndpointOptions options = fast_options(server.url() + "/v1/");  // "/v1" is not repeated
  options.chat = true;
  OpenAIClient client(options);
  EXPECT_EQ(client.endpoint(), server.url() + "/v1/chat/completions");
  CompletionResult result = client.complete({.prompt = "where is the needle"});
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.text, "WHERE IS THE NEEDLE");
  EXPECT_EQ(result.prompt_tokens, 4);
  EXPECT_EQ(server.last_path(), "/v1/chat/completions");
  nlohmann::json body = nlohmann::json::parse(server.last_body());
  EXPECT_EQ(body, nlohmann::json::parse(R"({"model": "fake-model", "max_tokens": 50,
      "temperature": 0.0, "messages": [{"role": "user", "content": "where is the needle"}]})"));
}

TEST(OpenAIClient, RetriesServerErrorsThenSucceeds) {
  FakeOpenAIServer server(upper);
  server.fail_next(2, 503);
  OpenAIClient client(fast_options(server.url()));
  CompletionResult result = client.complete({.prompt = "a b"});
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.text, "A B");
  EXPECT_EQ(result.attempts, 3);
  EXPECT_EQ(server.requests(), 3);
  // Waits of 0.01 s then 0.02 s between the attempts.
  EXPECT_GE(result.seconds, 0.03);
}

TEST(OpenAIClient, RetriesTooManyRequests) {
  FakeOpenAIServer server(upper);
  server.fail_next(1, 429);
  OpenAIClient client(fast_options(server.url()));
  CompletionResult result = client.complete({.prompt = "x"});
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.attempts, 2);
}

TEST(OpenAIClient, GivesUpAfterRetries) {
  FakeOpenAIServer server(upper);
  server.fail_next(10, 500);
  EndpointOptions options = fast_options(server.url());
  options.retries = 2;
  CompletionResult result = OpenAIClient(options).complete({.prompt = "x"});
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.attempts, 3);
  EXPECT_EQ(server.requests(), 3);
  EXPECT_EQ(result.error, "HTTP 500 from " + server.url() +
                              "/v1/completions: injected failure (HTTP 500) (gave up after 3 "
                              "attempts)");
}

TEST(OpenAIClient, ClientErrorFailsAtOnceWithTheServersMessage) {
  FakeOpenAIServer server(upper);
  server.fail_next(1, 400);
  CompletionResult result = OpenAIClient(fast_options(server.url())).complete({.prompt = "x"});
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.attempts, 1);
  EXPECT_EQ(server.requests(), 1);
  EXPECT_EQ(result.error,
            "HTTP 400 from " + server.url() + "/v1/completions: injected failure (HTTP 400)");
}

TEST(OpenAIClient, TimeoutFailsAfterRetries) {
  FakeOpenAIServer server(upper);
  server.delay_ms(1000);
  EndpointOptions options = fast_options(server.url());
  options.timeout_seconds = 0.1;
  options.retries = 1;
  CompletionResult result = OpenAIClient(options).complete({.prompt = "x"});
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.attempts, 2);
  EXPECT_EQ(server.requests(), 2);
  EXPECT_NE(result.error.find("timed out after 0.1 s (timeout_seconds)"), std::string::npos)
      << result.error;
  EXPECT_NE(result.error.find("gave up after 2 attempts"), std::string::npos) << result.error;
  EXPECT_LT(result.seconds, 0.9);  // two 0.1 s attempts, not the server's 1 s delay
}

TEST(OpenAIClient, ConnectionRefusedFailsCleanly) {
  std::string url;
  {
    FakeOpenAIServer server(upper);
    url = server.url();
  }  // the port is closed now
  EndpointOptions options = fast_options(url);
  options.retries = 1;
  CompletionResult result = OpenAIClient(options).complete({.prompt = "x"});
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.attempts, 2);
  EXPECT_NE(result.error.find("POST " + url + "/v1/completions failed: "), std::string::npos)
      << result.error;
}

TEST(OpenAIClient, CompleteAllKeepsOrderAndRunsConcurrently) {
  FakeOpenAIServer server([](const std::string& prompt) { return "answer to " + prompt; });
  server.delay_ms(150);  // long enough that all four workers overlap
  EndpointOptions options = fast_options(server.url());
  options.concurrency = 4;
  OpenAIClient client(options);
  std::vector<CompletionRequest> requests;
  for (int i = 0; i < 10; ++i) requests.push_back({.prompt = fmt::format("q{}", i)});
  std::set<size_t> done;
  std::vector<CompletionResult> results =
      client.complete_all(requests, [&](size_t index, const CompletionResult& result) {
        EXPECT_TRUE(result.ok) << result.error;
        EXPECT_TRUE(done.insert(index).second);  // serialised calls: no lock needed here
      });
  ASSERT_EQ(results.size(), 10u);
  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_EQ(results[i].text, fmt::format("answer to q{}", i));
  }
  EXPECT_EQ(done.size(), 10u);
  EXPECT_EQ(server.requests(), 10);
  EXPECT_EQ(server.max_in_flight(), 4);
}

TEST(OpenAIClient, CompleteAllOfNothing) {
  OpenAIClient client(fast_options("http://127.0.0.1:1"));
  EXPECT_TRUE(client.complete_all({}).empty());
}

TEST(OpenAIClient, ApiKeyFromTheEnvironment) {
  ::setenv("OPENAI_API_KEY", "from-env", /*overwrite=*/1);
  EndpointOptions options = fast_options("http://127.0.0.1:1");
  options.api_key = "";
  EXPECT_EQ(OpenAIClient(options).options().api_key, "from-env");
  ::unsetenv("OPENAI_API_KEY");
}

TEST(OpenAIClient, BadOptionsThrow) {
  EXPECT_THROW(OpenAIClient(EndpointOptions{}), Error);
  EXPECT_THROW(OpenAIClient({.url = "ftp://host"}), Error);
  EXPECT_THROW(OpenAIClient({.url = "localhost:8000"}), Error);
  EXPECT_THROW(OpenAIClient({.url = "http://h", .timeout_seconds = 0}), Error);
  EXPECT_THROW(OpenAIClient({.url = "http://h", .retries = -1}), Error);
  EXPECT_THROW(OpenAIClient({.url = "http://h", .concurrency = 0}), Error);
}

}  // namespace
}  // namespace longctx
