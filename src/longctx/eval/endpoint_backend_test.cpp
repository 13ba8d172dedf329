// The served-model backends against the fake OpenAI-compatible server: continuation
// log-likelihoods from echoed token log-probabilities, sent as lm-evaluation-harness sends
// them, and answers to text prompts.
#include "longctx/eval/endpoint_backend.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "support/fake_openai_server.h"

namespace longctx {
namespace {

TEST(EndpointBackend, LoglikelihoodsSumTheContinuationsEchoedTokens) {
  testing::FakeOpenAIServer server([](const std::string&) { return ""; });
  // Each token's log-probability is -(its id) / 100 in choice 0 and -(its id) / 10 elsewhere.
  server.set_token_logprob([](const std::vector<int32_t>& ids, size_t i, size_t choice) {
    return -static_cast<double>(ids[i]) / (choice == 0 ? 100.0 : 10.0);
  });
  EndpointLoglikelihood backend({.url = server.url(), .model = "m", .retries = 0});
  std::vector<LoglikelihoodRequest> requests = {{{1, 5, 6}, {{7}, {8, 9}}}, {{1, 2}, {{3}, {4}}}};
  std::map<size_t, LoglikelihoodResult> results;
  backend.score(requests, [&](size_t i, const LoglikelihoodResult& r) { results[i] = r; });
  ASSERT_EQ(results.size(), 2u);
  ASSERT_TRUE(results[0].error.empty()) << results[0].error;
  // Request 0: [1 5 6 | 7] in choice 0 -> -0.07; [1 5 6 | 8 9] in choice 1 -> -0.8 - 0.9.
  EXPECT_NEAR(results[0].loglikelihoods[0], -0.07, 1e-12);
  EXPECT_NEAR(results[0].loglikelihoods[1], -1.7, 1e-12);
  EXPECT_NEAR(results[1].loglikelihoods[0], -0.03, 1e-12);
  EXPECT_NEAR(results[1].loglikelihoods[1], -0.4, 1e-12);
  // The request as the harness's local-completions sends it.
  nlohmann::json body = nlohmann::json::parse(server.last_body());
  EXPECT_TRUE(body["echo"].get<bool>());
  EXPECT_EQ(body["logprobs"], 1);
  EXPECT_EQ(body["max_tokens"], 1);
  EXPECT_EQ(body["temperature"], 0);
  EXPECT_EQ(body["model"], "m");
  EXPECT_TRUE(body["prompt"] == nlohmann::json({{1, 5, 6, 7}, {1, 5, 6, 8, 9}}) ||
              body["prompt"] == nlohmann::json({{1, 2, 3}, {1, 2, 4}}));
}

TEST(EndpointBackend, AFailedRequestIsAResultWithItsError) {
  testing::FakeOpenAIServer server([](const std::string&) { return ""; });
  server.fail_next(1, 400);
  EndpointLoglikelihood backend({.url = server.url(), .retries = 0});
  std::vector<LoglikelihoodRequest> requests = {{{1, 2}, {{3}}}};
  LoglikelihoodResult result;
  backend.score(requests, [&](size_t, const LoglikelihoodResult& r) { result = r; });
  EXPECT_NE(result.error.find("HTTP 400"), std::string::npos) << result.error;
  EXPECT_TRUE(result.loglikelihoods.empty());
}

TEST(EndpointBackend, EchoWithoutThePromptsTokensIsAnError) {
  LoglikelihoodRequest r{{1, 2, 3}, {{4}, {5, 6}}};
  EXPECT_TRUE(
      loglikelihoods_from_echo(r, {{NAN, -1, -1, -2}, {NAN, -1, -1, -2, -3}}).error.empty());
  // A server that ignored echo returns only the generated token's.
  EXPECT_NE(loglikelihoods_from_echo(r, {{-0.5}, {-0.5}}).error.find("echo"), std::string::npos);
  EXPECT_NE(loglikelihoods_from_echo(r, {{NAN, -1, -1, -2}}).error.find("2 prompts"),
            std::string::npos);
  // A null where a continuation token is scored.
  EXPECT_FALSE(
      loglikelihoods_from_echo(r, {{NAN, -1, -1, NAN}, {NAN, -1, -1, -2, -3}}).error.empty());
}

TEST(EndpointBackend, AnswersComeFromTextPrompts) {
  testing::FakeOpenAIServer server([](const std::string& prompt) {
    return prompt.find("capital") != std::string::npos ? " Paris" : " no idea";
  });
  EndpointAnswers backend({.url = server.url(), .retries = 0});
  std::vector<AnswerRequest> requests = {{{1, 2}, "What is the capital?", 7},
                                         {{1, 3}, "Other question", 7}};
  std::map<size_t, Answer> answers;
  backend.answer(requests, [&](size_t i, const Answer& a) { answers[i] = a; });
  EXPECT_EQ(answers[0].text, " Paris");
  EXPECT_EQ(answers[1].text, " no idea");
  EXPECT_EQ(answers[0].prompt_tokens, 4);  // the fake counts words
  nlohmann::json body = nlohmann::json::parse(server.last_body());
  EXPECT_EQ(body["max_tokens"], 7);
  EXPECT_TRUE(body["prompt"].is_string());
}

}  // namespace
}  // namespace longctx
