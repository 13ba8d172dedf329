// longctx: extend LLaMA-family models from 4K to 128K context by data engineering
// (Fu et al., 2024). One binary; each subcommand is one file in tools/.
//
//   longctx stats data/slimpajama/ --json stats.json --svg stats.svg
#include <cstdio>
#include <map>

#include "commands.h"
#include "longctx/base/error.h"
#include "longctx/runtime/cuda_allocator.h"

int main(int argc, char** argv) {
  longctx::prefer_expandable_segments();  // before anything touches CUDA
  CLI::App app{
      "longctx: build long-context training data, train and evaluate LLaMA-family models\n"
      "at 128K context (Fu et al., \"Data Engineering for Scaling Language Models to 128K\n"
      "Context\", 2024). Run `longctx <command> --help` for a command's options."};
  app.require_subcommand(1, 1);
  app.set_version_flag("--version", "longctx 0.1.0");

  std::map<std::string, longctx::CommandRun> commands;
  commands["stats"] = longctx::add_stats_command(app);
  commands["tokenize"] = longctx::add_tokenize_command(app);
  commands["mix"] = longctx::add_mix_command(app);
  commands["inspect"] = longctx::add_inspect_command(app);
  commands["rope"] = longctx::add_rope_command(app);
  commands["init"] = longctx::add_init_command(app);
  commands["score"] = longctx::add_score_command(app);
  commands["generate"] = longctx::add_generate_command(app);
  commands["plan"] = longctx::add_plan_command(app);
  commands["train"] = longctx::add_train_command(app);
  commands["needle"] = longctx::add_needle_command(app);
  commands["report"] = longctx::add_report_command(app);
  commands["eval"] = longctx::add_eval_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  std::string name = app.get_subcommands().front()->get_name();
  try {
    return commands.at(name)();
  } catch (const longctx::Error& e) {
    std::fprintf(stderr, "longctx %s: error: %s\n", name.c_str(), e.what());
    if (!e.hint().empty()) std::fprintf(stderr, "hint: %s\n", e.hint().c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "longctx %s: error: %s\n", name.c_str(), e.what());
    return 1;
  }
}
