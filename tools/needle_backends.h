// The two ways `longctx needle` answers its cells, and where its default haystack comes from
// (tools/needle.cpp reads as the phases; the loops live here).
//
//   NeedleRunStats s = run_native_cells(cells, tokenizer, "run/model", load, 50, 8192, record);
//   run_endpoint_cells(cells, {.url = "http://localhost:8000"}, 50, record);
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "longctx/eval/needle.h"
#include "longctx/eval/openai_client.h"
#include "longctx/model/checkpoint.h"
#include "longctx/tokenizer/tokenizer.h"

namespace longctx {

// Called once per finished cell (from one thread at a time).
using RecordNeedleResult = std::function<void(const NeedleResult&)>;

struct NeedleRunStats {
  double prefill_flops = 0;  // forward FLOPs of every prompt (RECIPE.md section 5)
  double saved_flops = 0;    // of those, what prefix reuse did not compute
};

// [BOS] + encode(prompt): how the native backend and --dump-prompts tokenize a cell.
std::vector<int32_t> needle_prompt_ids(const Tokenizer& tokenizer, const std::string& prompt);

// Our model: prompts sorted by their token ids (the depth-first order of their prefix trie,
// so each shares the longest prefix with the one before and keeps its KV cache), greedy.
NeedleRunStats run_native_cells(const std::vector<NeedleCell>& cells, const Tokenizer& tokenizer,
                                const std::filesystem::path& model_dir, const LoadOptions& load,
                                int64_t max_new_tokens, int64_t chunk_tokens,
                                const RecordNeedleResult& record);

// A served model: concurrent requests with retries; a failed cell is recorded with its error.
void run_endpoint_cells(const std::vector<NeedleCell>& cells, const EndpointOptions& options,
                        int64_t max_new_tokens, const RecordNeedleResult& record);

}  // namespace longctx
