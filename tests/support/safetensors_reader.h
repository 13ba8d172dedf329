// Tests only: an independent reader of one tensor of a .safetensors file, from the published
// layout (8-byte little-endian header size, a JSON header of {"name": {"dtype", "shape",
// "data_offsets"}}, then the data), so the CLI tests read fixtures without linking the model
// library (which links libtorch) and check files against the format rather than our reader.
//
//   SafetensorsTensor ids = read_safetensors_tensor(path, "ids");   // ids.dtype == "I64"
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace longctx::testing {

struct SafetensorsTensor {
  std::string dtype;  // "F32", "BF16", "I64", ...
  std::vector<int64_t> shape;
  std::string bytes;  // the raw little-endian data
};

// The names of the file's tensors (without __metadata__), in the header's order.
std::vector<std::string> safetensors_tensor_names(const std::filesystem::path& path);
// Throws std::runtime_error when the file or the tensor is missing or the header is malformed.
SafetensorsTensor read_safetensors_tensor(const std::filesystem::path& path,
                                          const std::string& name);

}  // namespace longctx::testing
