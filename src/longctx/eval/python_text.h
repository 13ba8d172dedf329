// Python's str methods that the reference evaluations call on their text (lm-evaluation-harness
// strips MMLU questions; the paper and InfiniteBench lowercase and split book-QA answers), on
// UTF-8, so that our prompts and scores are the references' byte for byte.
//
//   python_split(" a\u00a0b\n") == {"a", "b"};  python_strip("\u3000Q? ") == "Q?"
//
// lower() maps each code point to ICU's simple lowercase (Python's full mapping differs for a
// handful of letters, such as U+0130 which becomes two code points); white space is Python's
// (Unicode White_Space, and U+001C-U+001F).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace longctx {

bool is_python_space(char32_t c);
std::string python_lower(std::string_view text);
std::vector<std::string> python_split(std::string_view text);
std::string_view python_strip(std::string_view text);

}  // namespace longctx
