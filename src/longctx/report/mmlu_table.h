// The terminal table of `longctx eval mmlu`'s summary (eval/mmlu.h): all questions, then the
// four categories, then every subject, with question counts and accuracy in percent.
//
//   std::printf("%s", mmlu_summary_table(summarize_mmlu(results)).c_str());
#pragma once

#include <string>

#include "longctx/eval/mmlu.h"

namespace longctx {

std::string mmlu_summary_table(const MmluSummary& summary);

}  // namespace longctx
