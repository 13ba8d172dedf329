// The subcommands of `longctx`. Each lives in its own file and registers itself on the app,
// returning the function that runs it once the command line has been parsed.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace longctx {

using CommandRun = std::function<int()>;

CommandRun add_stats_command(CLI::App& app);
CommandRun add_tokenize_command(CLI::App& app);
CommandRun add_mix_command(CLI::App& app);
CommandRun add_inspect_command(CLI::App& app);
CommandRun add_score_command(CLI::App& app);
CommandRun add_generate_command(CLI::App& app);
CommandRun add_init_command(CLI::App& app);
CommandRun add_rope_command(CLI::App& app);
CommandRun add_train_command(CLI::App& app);
CommandRun add_plan_command(CLI::App& app);
CommandRun add_needle_command(CLI::App& app);
CommandRun add_report_command(CLI::App& app);
CommandRun add_eval_command(CLI::App& app);

}  // namespace longctx
