#include "longctx/model/safetensors.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <optional>
#include <set>
#include <tuple>

#include "longctx/base/error.h"
#include "longctx/base/files.h"

namespace longctx {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  size_t bytes;
};

// The reference's dtypes, in DType order.
constexpr std::array<DTypeInfo, 15> kDTypes = {{
    {DType::kBool, "BOOL", 1},
    {DType::kU8, "U8", 1},
    {DType::kI8, "I8", 1},
    {DType::kF8E5M2, "F8_E5M2", 1},
    {DType::kF8E4M3, "F8_E4M3", 1},
    {DType::kI16, "I16", 2},
    {DType::kU16, "U16", 2},
    {DType::kF16, "F16", 2},
    {DType::kBF16, "BF16", 2},
    {DType::kI32, "I32", 4},
    {DType::kU32, "U32", 4},
    {DType::kF32, "F32", 4},
    {DType::kF64, "F64", 8},
    {DType::kI64, "I64", 8},
    {DType::kU64, "U64", 8},
}};

const DTypeInfo& info(DType dtype) {
  return kDTypes[static_cast<size_t>(dtype)];
}

std::string shape_text(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

// numel x dtype size, or nullopt on overflow.
std::optional<uint64_t> byte_count(const std::vector<int64_t>& shape, DType dtype) {
  uint64_t n = dtype_bytes(dtype);
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, static_cast<uint64_t>(d), &n)) return std::nullopt;
  }
  return n;
}

uint64_t read_le64(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | std::to_integer<uint64_t>(p[i]);
  return v;
}

std::string le64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
  return out;
}

// Maps a whole file read-only; the returned pointer unmaps when its last copy goes.
std::shared_ptr<const std::byte> map_file(const fs::path& path, uint64_t& size) {
  auto file = std::make_shared<MappedFile>(path);
  size = file->size();
  if (size < 8) {
    throw Error(fmt::format("{} is not a safetensors file: it holds {} bytes, fewer than the 8 of "
                            "the header length",
                            path.string(), size),
                "the file is truncated or empty; download or save it again");
  }
  // Aliasing constructor: the bytes live as long as the mapping does.
  return std::shared_ptr<const std::byte>(file, reinterpret_cast<const std::byte*>(file->data()));
}

// A tensor entry of a header, before its bytes are located.
struct HeaderEntry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

HeaderEntry parse_entry(const std::string& file, const std::string& name, const json& value) {
  auto fail = [&](const std::string& what) {
    return Error(fmt::format("{}: tensor '{}': {}", file, name, what),
                 "the header is corrupt; write the file again");
  };
  if (!value.is_object()) throw fail(fmt::format("expected an object, found {}", value.dump()));
  HeaderEntry e{name, DType::kU8, {}, 0, 0};
  auto dtype = value.find("dtype");
  if (dtype == value.end() || !dtype->is_string()) throw fail("missing or non-string \"dtype\"");
  try {
    e.dtype = parse_dtype(dtype->get<std::string>());
  } catch (const Error& error) {
    throw fail(error.what());
  }
  auto shape = value.find("shape");
  if (shape == value.end() || !shape->is_array()) throw fail("missing or non-array \"shape\"");
  for (const json& d : *shape) {
    if (!d.is_number_unsigned() || d.get<uint64_t>() > uint64_t{INT64_MAX})
      throw fail(
          fmt::format("shape {} holds {}, not a non-negative integer", shape->dump(), d.dump()));
    e.shape.push_back(d.get<int64_t>());
  }
  auto offsets = value.find("data_offsets");
  if (offsets == value.end() || !offsets->is_array() || offsets->size() != 2 ||
      !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned())
    throw fail("\"data_offsets\" must be [begin, end], two non-negative integers");
  e.begin = (*offsets)[0].get<uint64_t>();
  e.end = (*offsets)[1].get<uint64_t>();
  if (e.end < e.begin)
    throw fail(fmt::format("data_offsets [{}, {}] end before they begin", e.begin, e.end));
  std::optional<uint64_t> want = byte_count(e.shape, e.dtype);
  if (!want) throw fail(fmt::format("shape {} overflows", shape_text(e.shape)));
  if (*want != e.end - e.begin) {
    throw fail(
        fmt::format("data_offsets [{}, {}] hold {} bytes, but shape {} x {} ({} bytes "
                    "each) needs {}",
                    e.begin, e.end, e.end - e.begin, shape_text(e.shape), dtype_name(e.dtype),
                    dtype_bytes(e.dtype), *want));
  }
  return e;
}

void validate_tensors_to_write(std::span<const TensorToWrite> tensors, const fs::path& path) {
  std::set<std::string_view> names;
  for (const TensorToWrite& t : tensors) {
    if (t.name.empty() || t.name == "__metadata__")
      throw Error(fmt::format("{}: cannot write a tensor named '{}'", path.string(), t.name));
    if (!names.insert(t.name).second)
      throw Error(fmt::format("{}: tensor '{}' is given twice", path.string(), t.name));
    std::optional<uint64_t> want = byte_count(t.shape, t.dtype);
    if (!want || *want != t.bytes.size()) {
      throw Error(fmt::format("{}: tensor '{}' has {} bytes, but shape {} x {} needs {}",
                              path.string(), t.name, t.bytes.size(), shape_text(t.shape),
                              dtype_name(t.dtype),
                              want ? std::to_string(*want) : std::string("more than 2^64")));
    }
  }
}

// Data order of the reference writer: decreasing dtype alignment, then name.
std::vector<const TensorToWrite*> data_order(std::span<const TensorToWrite> tensors) {
  std::vector<const TensorToWrite*> order;
  for (const TensorToWrite& t : tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](const TensorToWrite* a, const TensorToWrite* b) {
    if (a->dtype != b->dtype) return a->dtype > b->dtype;
    return a->name < b->name;
  });
  return order;
}

}  // namespace

std::string_view dtype_name(DType dtype) {
  return info(dtype).name;
}
size_t dtype_bytes(DType dtype) {
  return info(dtype).bytes;
}

DType parse_dtype(std::string_view name) {
  for (const DTypeInfo& d : kDTypes) {
    if (d.name == name) return d.dtype;
  }
  throw Error(
      fmt::format("unknown dtype \"{}\" (known: BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, "
                  "F16, BF16, I32, U32, F32, F64, I64, U64)",
                  name));
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

SafetensorsFile SafetensorsFile::open(const fs::path& path) {
  SafetensorsFile f;
  f.path_ = path;
  const std::string file = path.string();
  uint64_t size = 0;
  f.mapping_ = map_file(path, size);
  const std::byte* base = f.mapping_.get();

  // Header length: bounded, and inside the file.
  uint64_t n = read_le64(base);
  if (n > kMaxSafetensorsHeaderBytes) {
    throw Error(fmt::format("{}: header length {} is over the {}-byte limit", file, n,
                            kMaxSafetensorsHeaderBytes),
                "the first 8 bytes are not a safetensors header length: not a safetensors file, "
                "or a corrupt one");
  }
  if (n > size - 8) {
    throw Error(
        fmt::format("{}: header length {} runs past the end of the file ({} bytes)", file, n, size),
        "the file is truncated; download or save it again");
  }
  f.header_bytes_ = n;
  const char* text = reinterpret_cast<const char*>(base + 8);
  if (n == 0 || text[0] != '{')
    throw Error(fmt::format("{}: the header does not start with '{{'", file),
                "not a safetensors file, or a corrupt one");
  json header;
  try {
    header = json::parse(text, text + n);
  } catch (const json::parse_error& e) {
    throw Error(fmt::format("{}: the header is not valid JSON: {}", file, e.what()),
                "not a safetensors file, or a corrupt one");
  }
  if (!header.is_object()) throw Error(fmt::format("{}: the header is not a JSON object", file));

  // Entries: metadata (string -> string) and tensors.
  std::vector<HeaderEntry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (value.is_null()) continue;
      if (!value.is_object())
        throw Error(fmt::format("{}: \"__metadata__\" is not an object of strings", file));
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string())
          throw Error(fmt::format("{}: \"__metadata__\" value of \"{}\" is {}, not a string", file,
                                  mk, mv.dump()));
        f.metadata_[mk] = mv.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(file, key, value));
  }

  // The tensors tile the data buffer: sorted by offsets, each begins where the last ended, and
  // the last ends at the end of the file.
  uint64_t buffer_bytes = size - 8 - n;
  std::sort(entries.begin(), entries.end(), [](const HeaderEntry& a, const HeaderEntry& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  uint64_t at = 0;
  const HeaderEntry* previous = nullptr;
  for (const HeaderEntry& e : entries) {
    if (e.begin != at) {
      std::string before =
          previous ? fmt::format("the previous tensor '{}' ends at {}", previous->name, at)
                   : std::string("the buffer starts at 0");
      throw Error(fmt::format("{}: tensor '{}': data_offsets [{}, {}] {}: {} (tensors must tile "
                              "the data buffer without gaps or overlaps)",
                              file, e.name, e.begin, e.end,
                              e.begin < at ? "overlap" : "leave a gap", before),
                  "the header is corrupt; write the file again");
    }
    at = e.end;
    previous = &e;
  }
  if (at != buffer_bytes) {
    std::string last =
        previous ? fmt::format(" (the last, '{}', ends at {})", previous->name, at) : std::string();
    throw Error(fmt::format("{}: the tensors cover {} bytes{} but the data buffer holds {} "
                            "bytes ({} in the file, after the 8 + {} header bytes)",
                            file, at, last, buffer_bytes, size, n),
                at > buffer_bytes ? "the file is truncated; download or save it again"
                                  : "the file has bytes no tensor owns; write it again");
  }

  const std::byte* data = base + 8 + n;
  for (HeaderEntry& e : entries) {
    TensorView view{e.dtype, std::move(e.shape), {data + e.begin, data + e.end}};
    f.tensors_.emplace(std::move(e.name), std::move(view));
  }
  return f;
}

const TensorView& SafetensorsFile::at(std::string_view name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end())
    throw Error(fmt::format("{}: no tensor named '{}' (the file holds {})", path_.string(), name,
                            tensors_.size()));
  return it->second;
}

SafetensorsSet SafetensorsSet::open(const fs::path& path) {
  SafetensorsSet set;
  fs::path index_path;
  if (fs::is_directory(path)) {
    // transformers' order: model.safetensors first, then the index.
    if (fs::exists(path / kSafetensorsSingleName)) {
      set.source_ = path / kSafetensorsSingleName;
    } else if (fs::exists(path / kSafetensorsIndexName)) {
      index_path = path / kSafetensorsIndexName;
    } else {
      throw Error(fmt::format("{} holds neither {} nor {}", path.string(), kSafetensorsSingleName,
                              kSafetensorsIndexName),
                  "point at a Hugging Face model directory saved in safetensors format");
    }
  } else if (path.string().ends_with(".index.json")) {
    index_path = path;
  } else {
    set.source_ = path;
  }

  if (index_path.empty()) {
    set.files_.push_back(SafetensorsFile::open(set.source_));
    for (const auto& [name, view] : set.files_.back().tensors()) {
      set.tensors_.emplace(name, view);
      set.file_of_.emplace(name, set.source_.filename());
    }
    return set;
  }

  // Sharded: the index names a file for every tensor.
  set.source_ = index_path;
  const std::string index = index_path.string();
  json doc;
  try {
    doc = json::parse(read_file(index_path));
  } catch (const json::parse_error& e) {
    throw Error(fmt::format("{}: not valid JSON: {}", index, e.what()));
  }
  if (!doc.is_object() || !doc.contains("weight_map") || !doc["weight_map"].is_object())
    throw Error(fmt::format("{}: expected an object with a \"weight_map\" object", index));
  if (doc.contains("metadata")) {
    if (!doc["metadata"].is_object() && !doc["metadata"].is_null())
      throw Error(fmt::format("{}: \"metadata\" is not an object", index));
    if (doc["metadata"].is_object()) set.index_metadata_ = doc["metadata"];
  }
  std::map<std::string, std::string> weight_map;  // tensor -> file
  std::set<std::string> shard_names;
  for (const auto& [name, file] : doc["weight_map"].items()) {
    if (!file.is_string())
      throw Error(fmt::format("{}: weight_map entry '{}' is {}, not a file name", index, name,
                              file.dump()));
    std::string shard = file.get<std::string>();
    if (shard.empty() || fs::path(shard).is_absolute())
      throw Error(fmt::format("{}: weight_map entry '{}' names '{}', not a file beside the index",
                              index, name, shard));
    weight_map[name] = shard;
    shard_names.insert(shard);
  }
  for (const std::string& shard : shard_names) {
    set.files_.push_back(SafetensorsFile::open(index_path.parent_path() / shard));
    const SafetensorsFile& f = set.files_.back();
    for (const auto& [name, view] : f.tensors()) {
      auto listed = weight_map.find(name);
      if (listed == weight_map.end())
        throw Error(fmt::format("{} holds tensor '{}', which {} does not list", f.path().string(),
                                name, index),
                    "the index and the shards come from different saves; save the model again");
      if (listed->second != shard)
        throw Error(fmt::format("{} holds tensor '{}', which {} places in {}", f.path().string(),
                                name, index, listed->second),
                    "the index and the shards come from different saves; save the model again");
      set.tensors_.emplace(name, view);
      set.file_of_.emplace(name, fs::path(shard));
    }
  }
  for (const auto& [name, shard] : weight_map) {
    if (!set.tensors_.contains(name))
      throw Error(
          fmt::format("{} lists tensor '{}' in {}, which does not hold it", index, name, shard),
          "the index and the shards come from different saves; save the model again");
  }
  return set;
}

const TensorView& SafetensorsSet::at(std::string_view name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end())
    throw Error(fmt::format("{}: no tensor named '{}' (the model holds {})", source_.string(), name,
                            tensors_.size()));
  return it->second;
}

const fs::path& SafetensorsSet::file_of(std::string_view name) const {
  auto it = file_of_.find(name);
  if (it == file_of_.end())
    throw Error(fmt::format("{}: no tensor named '{}'", source_.string(), name));
  return it->second;
}

std::string safetensors_header_json(std::span<const TensorToWrite> tensors,
                                    const std::map<std::string, std::string>& metadata) {
  // Compact JSON as serde_json writes it: "__metadata__" first, then the tensors in data order,
  // each {"dtype","shape","data_offsets"} in that field order.
  std::string out = "{";
  if (!metadata.empty()) out += "\"__metadata__\":" + json(metadata).dump();
  uint64_t offset = 0;
  for (const TensorToWrite* t : data_order(tensors)) {
    if (out.size() > 1) out += ",";
    uint64_t end = offset + t->bytes.size();
    out += fmt::format("{}:{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}",
                       json(t->name).dump(), dtype_name(t->dtype), fmt::join(t->shape, ","), offset,
                       end);
    offset = end;
  }
  return out + "}";
}

void write_safetensors(const fs::path& path, std::span<const TensorToWrite> tensors,
                       const std::map<std::string, std::string>& metadata) {
  validate_tensors_to_write(tensors, path);
  std::string header = safetensors_header_json(tensors, metadata);
  header.append((8 - header.size() % 8) % 8, ' ');  // the data buffer starts 8-byte aligned

  AtomicFile out(path);
  out.stream() << le64(header.size()) << header;
  for (const TensorToWrite* t : data_order(tensors)) {
    out.stream().write(reinterpret_cast<const char*>(t->bytes.data()),
                       static_cast<std::streamsize>(t->bytes.size()));
  }
  out.commit();
}

std::vector<fs::path> write_safetensors_sharded(
    const fs::path& dir, std::span<const TensorToWrite> tensors, uint64_t max_shard_bytes,
    const std::map<std::string, std::string>& metadata) {
  validate_tensors_to_write(tensors, dir);
  // Cut the tensors, in order, into shards as huggingface_hub's split_state_dict_into_shards:
  // sizes [6, 6, 2, 6, 2, 2] GB under a 10 GB limit become [6] [6 2] [6 2 2].
  std::vector<std::vector<TensorToWrite>> shards;
  std::vector<TensorToWrite> current;
  uint64_t current_bytes = 0, total_bytes = 0;
  for (const TensorToWrite& t : tensors) {
    total_bytes += t.bytes.size();
    if (t.bytes.size() > max_shard_bytes) {
      shards.push_back({t});
      continue;
    }
    if (current_bytes + t.bytes.size() > max_shard_bytes && !current.empty()) {
      shards.push_back(std::move(current));
      current.clear();
      current_bytes = 0;
    }
    current.push_back(t);
    current_bytes += t.bytes.size();
  }
  if (!current.empty() || shards.empty()) shards.push_back(std::move(current));

  std::vector<fs::path> written;
  std::set<std::string> keep;
  if (shards.size() == 1) {
    written.push_back(dir / kSafetensorsSingleName);
    write_safetensors(written.back(), shards[0], metadata);
    keep.insert(std::string(kSafetensorsSingleName));
  } else {
    json weight_map = json::object();
    for (size_t i = 0; i < shards.size(); ++i) {
      std::string name = fmt::format("model-{:05d}-of-{:05d}.safetensors", i + 1, shards.size());
      written.push_back(dir / name);
      write_safetensors(written.back(), shards[i], metadata);
      for (const TensorToWrite& t : shards[i]) weight_map[t.name] = name;
      keep.insert(name);
    }
    json index = {{"metadata", {{"total_size", total_bytes}}}, {"weight_map", weight_map}};
    written.push_back(dir / kSafetensorsIndexName);
    write_file_atomic(written.back(), index.dump(2) + "\n");
    keep.insert(std::string(kSafetensorsIndexName));
  }

  // Remove what an earlier save left that this one does not replace (a stale index or shards),
  // as save_pretrained does, so the directory reads back as exactly this set.
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    bool ours = name == kSafetensorsSingleName || name == kSafetensorsIndexName ||
                (name.starts_with("model-") && name.ends_with(".safetensors") &&
                 name.find("-of-") != std::string::npos);
    if (ours && !keep.contains(name)) fs::remove(entry.path());
  }
  return written;
}

}  // namespace longctx
