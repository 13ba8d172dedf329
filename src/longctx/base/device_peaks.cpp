#include "longctx/base/device_peaks.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

namespace longctx {

namespace {

// The name's words, upper-cased, split at spaces and hyphens, without the vendor and brand
// words: "NVIDIA A100-SXM4-80GB" -> {A100, SXM4, 80GB}, "NVIDIA GeForce RTX 4090" -> {RTX, 4090}.
std::vector<std::string> name_words(std::string_view name) {
  std::vector<std::string> words;
  std::string word;
  auto flush = [&] {
    if (!word.empty() && word != "NVIDIA" && word != "GEFORCE") words.push_back(word);
    word.clear();
  };
  for (char c : name) {
    if (c == ' ' || c == '-' || c == '_') {
      flush();
    } else {
      word += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
  }
  flush();
  return words;
}

// Words that name a board or memory variant of the same chip at the same clocks class:
// memory sizes (80GB), memory kinds, form factors. Anything else (MIG, a "D" or "Ti" suffix, a
// slice profile like 1G.10GB) makes the name unknown.
bool is_variant_word(const std::string& w) {
  if (w == "HBM3" || w == "HBM3E" || w == "HBM2E" || w == "SXM" || w == "SXM4" || w == "SXM5" ||
      w == "PCIE" || w == "NVL")
    return true;
  // A memory size: digits then GB.
  if (w.size() > 2 && w.compare(w.size() - 2, 2, "GB") == 0)
    return std::all_of(w.begin(), w.end() - 2, [](char c) { return c >= '0' && c <= '9'; });
  return false;
}

}  // namespace

std::optional<double> dense_bf16_peak_tflops(std::string_view device_name) {
  std::vector<std::string> words = name_words(device_name);
  if (words.empty()) return std::nullopt;
  // The chip: the first word, or "RTX 4090" as two.
  std::string chip = words[0];
  size_t first_variant = 1;
  if (chip == "RTX" && words.size() > 1) {
    chip += " " + words[1];
    first_variant = 2;
  }
  bool pcie = false, nvl = false;
  for (size_t i = first_variant; i < words.size(); ++i) {
    if (!is_variant_word(words[i])) return std::nullopt;
    pcie = pcie || words[i] == "PCIE";
    nvl = nvl || words[i] == "NVL";
  }
  // NVIDIA's datasheets list bf16 tensor throughput "with sparsity"; the dense figure is half
  // of it. Sources: NVIDIA A100 Tensor Core GPU datasheet (BF16 312 | 624*, SXM and PCIe alike);
  // NVIDIA H100 Tensor Core GPU datasheet (SXM 1,979*, PCIe 1,513*, NVL 1,671*); NVIDIA H200
  // Tensor Core GPU datasheet (SXM 1,979*; NVL 1,671*); NVIDIA L40S datasheet (362.05 | 733*);
  // NVIDIA L4 datasheet (242*); NVIDIA A10 datasheet (125 | 250*); NVIDIA Ada Lovelace GPU
  // architecture whitepaper, GeForce RTX 4090 (BF16 with FP32 accumulate 165.2 | 330.4*).
  if (chip == "A100") return 312;
  if (chip == "H100") return pcie ? 756 : nvl ? 835 : 989;
  if (chip == "H200") return nvl ? 835 : 989;
  if (chip == "L40S" && !pcie && !nvl) return 362;
  if (chip == "L4" && !pcie && !nvl) return 121;
  if (chip == "A10" && !pcie && !nvl) return 125;
  if (chip == "RTX 4090" && !pcie && !nvl) return 165;
  return std::nullopt;
}

}  // namespace longctx
