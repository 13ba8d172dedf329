#include "support/fake_openai_server.h"

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace longctx::testing {
namespace {

int64_t count_words(const std::string& text) {
  std::istringstream stream(text);
  std::string word;
  int64_t words = 0;
  while (stream >> word) ++words;
  return words;
}

nlohmann::json error_json(const std::string& message) {
  return {{"error", {{"message", message}, {"type", "fake_error"}}}};
}

}  // namespace

struct FakeOpenAIServer::State {
  std::function<std::string(const std::string&)> respond;
  TokenLogprob token_logprob = [](const std::vector<int32_t>&, size_t, size_t) { return -1.0; };
  httplib::Server server;
  std::thread thread;
  int port = 0;

  mutable std::mutex mutex;  // guards everything below
  std::condition_variable stopping_cv;
  bool stopping = false;
  int fail_count = 0;
  int fail_status = 500;
  int delay_ms = 0;
  int requests = 0;
  int in_flight = 0;
  int max_in_flight = 0;
  std::string last_body;
  std::string last_path;

  void handle(const httplib::Request& request, httplib::Response& response, bool chat) {
    std::unique_lock lock(mutex);
    ++requests;
    max_in_flight = std::max(max_in_flight, ++in_flight);
    last_body = request.body;
    last_path = request.path;
    // Wait out the delay unless the server is stopping, so that tests end promptly.
    stopping_cv.wait_for(lock, std::chrono::milliseconds(delay_ms), [&] { return stopping; });
    bool fail = fail_count > 0;
    if (fail) --fail_count;
    int status = fail_status;
    lock.unlock();
    answer(request, response, chat, fail, status);
    lock.lock();
    --in_flight;
  }

  void answer(const httplib::Request& request, httplib::Response& response, bool chat, bool fail,
              int status) {
    if (fail) {
      response.status = status;
      response.set_content(error_json(fmt_status("injected failure", status)).dump(),
                           "application/json");
      return;
    }
    nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
    if (!chat && body.is_object() && body.contains("prompt") && body["prompt"].is_array()) {
      answer_token_prompts(body, response);
      return;
    }
    std::string prompt;
    if (chat && body.is_object() && body.contains("messages") && body["messages"].is_array() &&
        !body["messages"].empty() &&
        body["messages"].back().value("content", nlohmann::json()).is_string()) {
      prompt = body["messages"].back()["content"].get<std::string>();
    } else if (!chat && body.is_object() && body.contains("prompt") && body["prompt"].is_string()) {
      prompt = body["prompt"].get<std::string>();
    } else {
      response.status = 400;
      response.set_content(
          error_json(chat ? "expected messages[-1].content" : "expected a string prompt").dump(),
          "application/json");
      return;
    }
    std::string text = respond(prompt);
    nlohmann::json choice = {{"index", 0}, {"finish_reason", "stop"}};
    if (chat) {
      choice["message"] = {{"role", "assistant"}, {"content", text}};
    } else {
      choice["text"] = text;
    }
    int64_t prompt_tokens = count_words(prompt);
    int64_t completion_tokens = count_words(text);
    nlohmann::json reply = {{"id", "fake-1"},
                            {"object", chat ? "chat.completion" : "text_completion"},
                            {"model", body.value("model", "fake")},
                            {"choices", nlohmann::json::array({choice})},
                            {"usage",
                             {{"prompt_tokens", prompt_tokens},
                              {"completion_tokens", completion_tokens},
                              {"total_tokens", prompt_tokens + completion_tokens}}}};
    response.set_content(reply.dump(), "application/json");
  }

  // Token-id prompts, one choice each; with echo and logprobs, every token's log-probability.
  void answer_token_prompts(const nlohmann::json& body, httplib::Response& response) {
    nlohmann::json choices = nlohmann::json::array();
    int64_t prompt_tokens = 0;
    TokenLogprob logprob;
    {
      std::lock_guard lock(mutex);
      logprob = token_logprob;
    }
    for (size_t c = 0; c < body["prompt"].size(); ++c) {
      std::vector<int32_t> ids = body["prompt"][c].get<std::vector<int32_t>>();
      prompt_tokens += static_cast<int64_t>(ids.size());
      nlohmann::json choice = {{"index", c}, {"text", " x"}, {"finish_reason", "length"}};
      if (body.contains("logprobs")) {
        nlohmann::json values = nlohmann::json::array(), tokens = nlohmann::json::array();
        if (body.value("echo", false)) {
          for (size_t i = 0; i < ids.size(); ++i) {
            values.push_back(i == 0 ? nlohmann::json() : nlohmann::json(logprob(ids, i, c)));
            tokens.push_back(std::to_string(ids[i]));
          }
        }
        values.push_back(-0.5);
        tokens.push_back("x");
        choice["logprobs"] = {{"tokens", tokens}, {"token_logprobs", values}};
      }
      choices.push_back(choice);
    }
    nlohmann::json reply = {{"id", "fake-1"},
                            {"object", "text_completion"},
                            {"choices", choices},
                            {"usage", {{"prompt_tokens", prompt_tokens}}}};
    response.set_content(reply.dump(), "application/json");
  }

  static std::string fmt_status(const std::string& what, int status) {
    return what + " (HTTP " + std::to_string(status) + ")";
  }
};

FakeOpenAIServer::FakeOpenAIServer(std::function<std::string(const std::string& prompt)> respond)
    : state_(std::make_unique<State>()) {
  State& state = *state_;
  state.respond = std::move(respond);
  state.server.Post("/v1/completions",
                    [&state](const httplib::Request& request, httplib::Response& response) {
                      state.handle(request, response, /*chat=*/false);
                    });
  state.server.Post("/v1/chat/completions",
                    [&state](const httplib::Request& request, httplib::Response& response) {
                      state.handle(request, response, /*chat=*/true);
                    });
  state.port = state.server.bind_to_any_port("127.0.0.1");
  if (state.port <= 0) throw std::runtime_error("FakeOpenAIServer: cannot bind a localhost port");
  state.thread = std::thread([&state] { state.server.listen_after_bind(); });
  // The socket is listening once bound, but wait for the accept loop so stop() is never early.
  while (!state.server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

FakeOpenAIServer::~FakeOpenAIServer() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
  }
  state_->stopping_cv.notify_all();
  state_->server.stop();
  state_->thread.join();
}

int FakeOpenAIServer::port() const {
  return state_->port;
}

std::string FakeOpenAIServer::url() const {
  return "http://127.0.0.1:" + std::to_string(state_->port);
}

void FakeOpenAIServer::set_token_logprob(TokenLogprob token_logprob) {
  std::lock_guard lock(state_->mutex);
  state_->token_logprob = std::move(token_logprob);
}

void FakeOpenAIServer::fail_next(int count, int status) {
  std::lock_guard lock(state_->mutex);
  state_->fail_count = count;
  state_->fail_status = status;
}

void FakeOpenAIServer::delay_ms(int milliseconds) {
  std::lock_guard lock(state_->mutex);
  state_->delay_ms = milliseconds;
}

int FakeOpenAIServer::requests() const {
  std::lock_guard lock(state_->mutex);
  return state_->requests;
}

int FakeOpenAIServer::max_in_flight() const {
  std::lock_guard lock(state_->mutex);
  return state_->max_in_flight;
}

std::string FakeOpenAIServer::last_body() const {
  std::lock_guard lock(state_->mutex);
  return state_->last_body;
}

std::string FakeOpenAIServer::last_path() const {
  std::lock_guard lock(state_->mutex);
  return state_->last_path;
}

}  // namespace longctx::testing
