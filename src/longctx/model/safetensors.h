// safetensors: the checkpoint format of Hugging Face models, read and written from its published
// layout (github.com/huggingface/safetensors):
//
//   [8 bytes] N, uint64 little-endian: the length of the header
//   [N bytes] header, UTF-8 JSON: {"<name>": {"dtype": "BF16", "shape": [4096, 4096],
//             "data_offsets": [begin, end]}, ..., "__metadata__": {"format": "pt"}}
//   [rest]    the data buffer; offsets are relative to its first byte, end exclusive
//
// Tensors are row-major and little-endian. Reading maps the file (mmap) and checks everything
// before handing out a byte: the header length against the file, the JSON, every dtype, shape
// and offset pair, that the byte length of each tensor is its element count times its dtype
// size, and that the tensors tile the data buffer exactly (no gap, no overlap, nothing past the
// end). A file that fails any check is an Error naming the file and the tensor.
//
//   SafetensorsFile f = SafetensorsFile::open("model.safetensors");
//   const TensorView& w = f.at("model.embed_tokens.weight");    // dtype, shape, bytes
//
//   SafetensorsSet model = SafetensorsSet::open("Llama-2-7b-hf/");  // sharded or not
//   const TensorView& q = model.at("model.layers.0.self_attn.q_proj.weight");
//
//   write_safetensors("out.safetensors", {{"w", DType::kF32, {2, 3}, bytes}});
//   write_safetensors_sharded("out/", tensors, /*max_shard_bytes=*/5'000'000'000);
//
// Views stay valid while any SafetensorsFile or SafetensorsSet that maps their file is alive.
// Their bytes are aligned to the dtype only when the writer aligned them (ours does, as the
// reference writer does); readers that need alignment copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace longctx {

// Element types, in the reference's order of increasing alignment (the writer sorts by it).
enum class DType {
  kBool,
  kU8,
  kI8,
  kF8E5M2,
  kF8E4M3,
  kI16,
  kU16,
  kF16,
  kBF16,
  kI32,
  kU32,
  kF32,
  kF64,
  kI64,
  kU64
};

// "BF16" <-> DType::kBF16. parse_dtype throws Error for a name outside the list above.
std::string_view dtype_name(DType dtype);
DType parse_dtype(std::string_view name);
size_t dtype_bytes(DType dtype);

// One tensor of a mapped file: its type, its shape and its bytes (numel x dtype_bytes).
struct TensorView {
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::span<const std::byte> bytes;

  int64_t numel() const;
};

// name -> view, sorted by name; find() takes a string_view.
using TensorMap = std::map<std::string, TensorView, std::less<>>;

// The name of the index of a sharded checkpoint, and of an unsharded one.
inline constexpr std::string_view kSafetensorsIndexName = "model.safetensors.index.json";
inline constexpr std::string_view kSafetensorsSingleName = "model.safetensors";

// Upper bound on the header, the reference's own (100 MB): a larger N is a corrupt file.
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

// One .safetensors file, mapped read-only.
class SafetensorsFile {
 public:
  // Maps and validates `path`; throws Error naming the file (and tensor) on any fault.
  static SafetensorsFile open(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }
  const TensorMap& tensors() const { return tensors_; }
  // "__metadata__", empty when the file has none.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool contains(std::string_view name) const { return tensors_.find(name) != tensors_.end(); }
  // Throws Error naming the file and the tensor when it is absent.
  const TensorView& at(std::string_view name) const;
  // N, the header's length in bytes (the data buffer starts at 8 + N).
  uint64_t header_bytes() const { return header_bytes_; }

 private:
  std::filesystem::path path_;
  std::shared_ptr<const std::byte> mapping_;  // unmaps when the last copy goes
  uint64_t header_bytes_ = 0;
  TensorMap tensors_;
  std::map<std::string, std::string> metadata_;
};

// The tensors of a model as one set: a single file, or the shards named by an index
// (`model.safetensors.index.json`: {"metadata": {...}, "weight_map": {tensor: file}}).
// Every shard is opened and checked; a tensor the index names but its shard lacks, a tensor in
// a shard the index does not list, or one found in two shards is an Error.
class SafetensorsSet {
 public:
  // `path`: a model directory (model.safetensors if present, else its index: transformers'
  // order), an index file (*.index.json), or a single .safetensors file.
  static SafetensorsSet open(const std::filesystem::path& path);

  // name -> view, over all shards.
  const TensorMap& tensors() const { return tensors_; }
  bool contains(std::string_view name) const { return tensors_.find(name) != tensors_.end(); }
  const TensorView& at(std::string_view name) const;
  // Which file holds a tensor (a shard's file name for sharded sets).
  const std::filesystem::path& file_of(std::string_view name) const;
  // The shards, in file-name order (one entry for an unsharded model).
  const std::vector<SafetensorsFile>& files() const { return files_; }
  // The index's "metadata" object (e.g. {"total_size": ...}); empty for a single file.
  const nlohmann::json& index_metadata() const { return index_metadata_; }
  // Where the set came from (the index or the single file).
  const std::filesystem::path& source() const { return source_; }

 private:
  std::filesystem::path source_;
  std::vector<SafetensorsFile> files_;
  TensorMap tensors_;
  std::map<std::string, std::filesystem::path, std::less<>> file_of_;
  nlohmann::json index_metadata_ = nlohmann::json::object();
};

// One tensor to write. `bytes` must hold exactly numel x dtype_bytes bytes.
struct TensorToWrite {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::span<const std::byte> bytes;
};

// What transformers writes: save_pretrained marks its files {"format": "pt"} and
// from_pretrained refuses a file whose metadata lacks a known format.
inline const std::map<std::string, std::string> kPytorchMetadata = {{"format", "pt"}};

// Writes one .safetensors file atomically (a temporary name, then rename) as the reference
// writer lays it out: tensors in order of decreasing dtype alignment, then by name (for a
// one-dtype model: by name), header entries in that order after "__metadata__", compact JSON
// padded with spaces to a multiple of 8 bytes so every tensor starts aligned. Throws Error on
// a duplicate or empty name, a byte count that does not match the shape, or a failed write.
void write_safetensors(const std::filesystem::path& path, std::span<const TensorToWrite> tensors,
                       const std::map<std::string, std::string>& metadata = kPytorchMetadata);

// Writes a model's tensors into `dir` the way transformers' save_pretrained shards them:
// tensors in the given order fill a shard until the next one would push it past
// `max_shard_bytes` (a tensor larger than that gets a shard of its own). One shard is written as
// `model.safetensors`; several as `model-00001-of-00003.safetensors`, ... with
// `model.safetensors.index.json` ({"metadata": {"total_size": bytes}, "weight_map": {...}},
// keys sorted, indent 2), written last. Returns the files written, the index last.
std::vector<std::filesystem::path> write_safetensors_sharded(
    const std::filesystem::path& dir, std::span<const TensorToWrite> tensors,
    uint64_t max_shard_bytes,
    const std::map<std::string, std::string>& metadata = kPytorchMetadata);

// The header JSON (unpadded) write_safetensors would write, for tests and inspection.
std::string safetensors_header_json(std::span<const TensorToWrite> tensors,
                                    const std::map<std::string, std::string>& metadata);

}  // namespace longctx
