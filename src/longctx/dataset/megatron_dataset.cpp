#include "longctx/dataset/megatron_dataset.h"

#include <fmt/format.h>

#include <bit>
#include <cstring>
#include <limits>
#include <string>

#include "longctx/base/error.h"

namespace longctx {

namespace fs = std::filesystem;

static_assert(std::endian::native == std::endian::little,
              "the Megatron files are little-endian and are read in place");

namespace {

constexpr char kMagic[9] = {'M', 'M', 'I', 'D', 'I', 'D', 'X', '\0', '\0'};
constexpr uint64_t kHeaderBytes = 9 + 8 + 1 + 8 + 8;  // magic, version, dtype, S, D

// Name and size of a dtype code; size 0 for codes that are not token ids or not Megatron's.
struct Dtype {
  std::string_view name;
  uint32_t bytes;
};
Dtype dtype_of(uint8_t code) {
  switch (code) {
    case 1:
      return {"uint8", 1};
    case 2:
      return {"int8", 1};
    case 3:
      return {"int16", 2};
    case 4:
      return {"int32", 4};
    case 5:
      return {"int64", 8};
    case 6:
      return {"float64", 0};
    case 7:
      return {"float32", 0};
    case 8:
      return {"uint16", 2};
    default:
      return {"", 0};
  }
}

template <typename T>
T load(const char* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

Error bad(const fs::path& file, const std::string& what) {
  return Error(fmt::format("megatron dataset {}: {}", file.string(), what),
               "check that the .idx and .bin were written together and copied whole");
}

// Widens `n` tokens of type T at `p` into `out`, checking each is a valid int32 token id.
template <typename T>
void widen(const char* p, std::span<int32_t> out, const fs::path& prefix, uint64_t first_token) {
  for (size_t k = 0; k < out.size(); ++k) {
    T value = load<T>(p + k * sizeof(T));
    if constexpr (std::numeric_limits<T>::is_signed) {
      if (value < 0) {
        throw Error(fmt::format("megatron dataset {}.bin: token {} is {}, a negative id",
                                prefix.string(), first_token + k, static_cast<int64_t>(value)));
      }
    }
    if constexpr (sizeof(T) >= 4) {
      if (static_cast<uint64_t>(value) > static_cast<uint64_t>(INT32_MAX)) {
        throw Error(
            fmt::format("megatron dataset {}.bin: token {} is {}, above the int32 ids "
                        "the trainer takes",
                        prefix.string(), first_token + k, static_cast<int64_t>(value)));
      }
    }
    out[k] = static_cast<int32_t>(value);
  }
}

}  // namespace

MegatronDataset MegatronDataset::open(const fs::path& prefix) {
  MegatronDataset d;
  d.prefix_ = prefix;
  const fs::path idx_path = prefix.string() + ".idx";
  const fs::path bin_path = prefix.string() + ".bin";
  for (const fs::path& p : {idx_path, bin_path}) {
    if (!fs::exists(p)) {
      throw Error(fmt::format("megatron dataset {}: {} is missing", prefix.string(), p.string()),
                  "a Megatron dataset is a pair PREFIX.idx + PREFIX.bin; pass PREFIX");
    }
  }
  d.idx_ = std::make_unique<MappedFile>(idx_path);
  d.bin_ = std::make_unique<MappedFile>(bin_path);
  const char* idx = d.idx_->data();
  const uint64_t idx_bytes = d.idx_->size();

  // Header.
  if (idx_bytes < kHeaderBytes) {
    throw bad(idx_path, fmt::format("{} bytes, shorter than the {}-byte header (truncated?)",
                                    idx_bytes, kHeaderBytes));
  }
  if (std::memcmp(idx, kMagic, sizeof(kMagic)) != 0)
    throw bad(idx_path, "bad magic: expected \"MMIDIDX\\0\\0\" (not a Megatron .idx)");
  const auto version = load<uint64_t>(idx + 9);
  if (version != 1) {
    throw bad(idx_path,
              fmt::format("version {}; this reader knows Megatron-LM's version 1 only", version));
  }
  d.dtype_code_ = load<uint8_t>(idx + 17);
  const Dtype dtype = dtype_of(d.dtype_code_);
  if (dtype.name.empty()) {
    throw bad(idx_path, fmt::format("unknown dtype code {} (expected 1 uint8, 2 int8, 3 int16, "
                                    "4 int32, 5 int64 or 8 uint16)",
                                    d.dtype_code_));
  }
  if (dtype.bytes == 0) {
    throw bad(idx_path, fmt::format("dtype code {} ({}) holds floats, not token ids", d.dtype_code_,
                                    dtype.name));
  }
  d.token_bytes_ = dtype.bytes;
  const auto sequences = load<uint64_t>(idx + 18);
  const auto document_indices = load<uint64_t>(idx + 26);

  // The three arrays fill the rest of the file exactly. Bound the counts by the size first so
  // that 12 S + 8 D cannot overflow.
  const uint64_t body = idx_bytes - kHeaderBytes;
  if (sequences > body / 12 || document_indices > body / 8 ||
      12 * sequences + 8 * document_indices != body) {
    throw bad(idx_path,
              fmt::format("{} bytes, but the header's {} sequences and {} document indices need "
                          "{} + 12 x {} + 8 x {} bytes (truncated, or trailing bytes)",
                          idx_bytes, sequences, document_indices, kHeaderBytes, sequences,
                          document_indices));
  }
  d.sequences_ = sequences;
  d.lengths_ = idx + kHeaderBytes;
  d.pointers_ = d.lengths_ + 4 * sequences;
  const char* documents = d.pointers_ + 8 * sequences;

  // Pointers are the running sum of lengths x token size: lengths [5, 3] of uint16 -> [0, 10].
  uint64_t expect = 0;
  for (uint64_t i = 0; i < sequences; ++i) {
    const auto length = load<int32_t>(d.lengths_ + 4 * i);
    if (length < 0)
      throw bad(idx_path, fmt::format("sequence {} has negative length {}", i, length));
    const int64_t pointer = d.pointer(i);
    if (pointer < 0 || static_cast<uint64_t>(pointer) != expect) {
      throw bad(idx_path, fmt::format("sequence {} pointer is {}, expected {} (the earlier "
                                      "lengths x {} bytes)",
                                      i, pointer, expect, d.token_bytes_));
    }
    if (__builtin_add_overflow(expect, static_cast<uint64_t>(length) * d.token_bytes_, &expect))
      throw bad(idx_path, "sequence lengths overflow 64-bit byte offsets");
  }
  d.total_tokens_ = expect / d.token_bytes_;

  // Document indices: 0, non-decreasing, ending at S.
  if (document_indices == 0)
    throw bad(idx_path, "no document indices; expected at least the leading 0");
  int64_t previous = 0;
  for (uint64_t k = 0; k < document_indices; ++k) {
    const auto index = load<int64_t>(documents + 8 * k);
    if ((k == 0 && index != 0) || index < previous) {
      throw bad(idx_path, fmt::format("document index {} is {}; expected 0, then non-decreasing "
                                      "sequence indices",
                                      k, index));
    }
    previous = index;
  }
  if (static_cast<uint64_t>(previous) != sequences) {
    throw bad(idx_path, fmt::format("the last document index is {}, expected the sequence count {}",
                                    previous, sequences));
  }
  d.documents_ = document_indices - 1;

  // .bin: exactly the tokens the index describes.
  if (d.bin_->size() != expect) {
    throw bad(bin_path,
              fmt::format("{} bytes, but the index's {} sequences ({} tokens of {}) "
                          "need {} bytes (truncated?)",
                          d.bin_->size(), sequences, d.total_tokens_, dtype.name, expect));
  }
  return d;
}

std::string_view MegatronDataset::dtype_name() const {
  return dtype_of(dtype_code_).name;
}

int64_t MegatronDataset::pointer(uint64_t sequence) const {
  return load<int64_t>(pointers_ + 8 * sequence);
}

uint32_t MegatronDataset::sequence_length(uint64_t sequence) const {
  if (sequence >= sequences_) {
    throw Error(fmt::format("megatron dataset {}: sequence {} out of range ({} sequences)",
                            prefix_.string(), sequence, sequences_));
  }
  return static_cast<uint32_t>(load<int32_t>(lengths_ + 4 * sequence));
}

uint64_t MegatronDataset::sequence_start(uint64_t sequence) const {
  if (sequence == sequences_) return total_tokens_;
  if (sequence > sequences_) {
    throw Error(fmt::format("megatron dataset {}: sequence {} out of range ({} sequences)",
                            prefix_.string(), sequence, sequences_));
  }
  return static_cast<uint64_t>(pointer(sequence)) / token_bytes_;
}

uint64_t MegatronDataset::sequence_at(uint64_t token) const {
  if (token >= total_tokens_) {
    throw Error(fmt::format("megatron dataset {}: token {} out of range ({} tokens)",
                            prefix_.string(), token, total_tokens_));
  }
  // The last sequence starting at or before `token`. Empty sequences share their start with
  // the next one, so the last of a run of equal starts is the one that holds the token.
  uint64_t lo = 0, hi = sequences_;  // answer in [lo, hi)
  while (hi - lo > 1) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (sequence_start(mid) <= token) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return lo;
}

std::vector<uint64_t> MegatronDataset::sequence_starts_in(uint64_t first_token,
                                                          uint64_t tokens) const {
  std::vector<uint64_t> starts;
  if (tokens == 0 || first_token >= total_tokens_) return starts;
  const uint64_t end = std::min(first_token + tokens, total_tokens_);
  for (uint64_t s = sequence_at(first_token); s < sequences_; ++s) {
    const uint64_t start = sequence_start(s);
    if (start >= end) break;
    if (start >= first_token && sequence_length(s) > 0 &&
        (starts.empty() || starts.back() != start)) {
      starts.push_back(start);
    }
  }
  return starts;
}

void MegatronDataset::read_stream(uint64_t first_token, std::span<int32_t> out) const {
  if (first_token > total_tokens_ || out.size() > total_tokens_ - first_token) {
    throw Error(
        fmt::format("megatron dataset {}: tokens [{}, {}) pass the end of the stream "
                    "({} tokens)",
                    prefix_.string(), first_token, first_token + out.size(), total_tokens_));
  }
  const char* p = bin_->data() + first_token * token_bytes_;
  switch (dtype_code_) {
    case 1:
      widen<uint8_t>(p, out, prefix_, first_token);
      break;
    case 2:
      widen<int8_t>(p, out, prefix_, first_token);
      break;
    case 3:
      widen<int16_t>(p, out, prefix_, first_token);
      break;
    case 4:
      widen<int32_t>(p, out, prefix_, first_token);
      break;
    case 5:
      widen<int64_t>(p, out, prefix_, first_token);
      break;
    case 8:
      widen<uint16_t>(p, out, prefix_, first_token);
      break;
    default:
      throw Error(fmt::format("megatron dataset: dtype code {}", dtype_code_));
  }
}

}  // namespace longctx
