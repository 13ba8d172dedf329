#include "support/megatron_reader.h"

#include <array>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string_view>

namespace longctx::testing {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kMagic{"MMIDIDX\0\0", 9};
constexpr uint64_t kVersion = 1;
constexpr uint64_t kHeaderBytes = 9 + 8 + 1 + 8 + 8;  // magic, version, dtype, S, D

struct DtypeInfo {
  const char* name;
  size_t bytes;
};
// Indexed by dtype code; code 0 is not used by Megatron.
constexpr std::array<DtypeInfo, 9> kDtypes{{{"", 0},
                                            {"uint8", 1},
                                            {"int8", 1},
                                            {"int16", 2},
                                            {"int32", 4},
                                            {"int64", 8},
                                            {"float64", 8},
                                            {"float32", 4},
                                            {"uint16", 2}}};

[[noreturn]] void fail(const fs::path& path, const std::string& what) {
  throw std::runtime_error("megatron dataset " + path.string() + ": " + what);
}

// Little-endian unsigned integer of `bytes` bytes at p, whatever the host's byte order.
uint64_t load_le(const unsigned char* p, size_t bytes) {
  uint64_t value = 0;
  for (size_t k = 0; k < bytes; ++k) value |= static_cast<uint64_t>(p[k]) << (8 * k);
  return value;
}

std::string read_whole_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open (expected the .idx of a Megatron indexed dataset)");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail(path, "read error");
  return bytes;
}

}  // namespace

std::string megatron_dtype_name(uint8_t dtype_code) {
  if (dtype_code < 1 || dtype_code >= kDtypes.size()) {
    throw std::runtime_error("unknown Megatron dtype code " + std::to_string(dtype_code) +
                             " (expected 1..8: uint8 int8 int16 int32 int64 float64 float32 "
                             "uint16)");
  }
  return kDtypes[dtype_code].name;
}

size_t megatron_dtype_bytes(uint8_t dtype_code) {
  megatron_dtype_name(dtype_code);  // throws for an unknown code
  return kDtypes[dtype_code].bytes;
}

MegatronDataset read_megatron(const fs::path& prefix) {
  MegatronDataset data;
  data.idx_path = prefix.string() + ".idx";
  data.bin_path = prefix.string() + ".bin";
  const fs::path& idx_path = data.idx_path;

  const std::string idx = read_whole_file(idx_path);
  const auto* bytes = reinterpret_cast<const unsigned char*>(idx.data());
  const uint64_t idx_bytes = idx.size();

  // Header.
  if (idx_bytes < kHeaderBytes) {
    fail(idx_path, "file is " + std::to_string(idx_bytes) + " bytes, shorter than the " +
                       std::to_string(kHeaderBytes) + "-byte header");
  }
  if (std::string_view(idx.data(), kMagic.size()) != kMagic) {
    fail(idx_path, "bad magic: expected \"MMIDIDX\\x00\\x00\" in the first 9 bytes");
  }
  const uint64_t version = load_le(bytes + 9, 8);
  if (version != kVersion) {
    fail(idx_path, "version " + std::to_string(version) + ", expected 1");
  }
  data.dtype_code = bytes[17];
  try {
    data.dtype_name = megatron_dtype_name(data.dtype_code);
  } catch (const std::runtime_error& error) {
    fail(idx_path, error.what());
  }
  data.element_bytes = megatron_dtype_bytes(data.dtype_code);
  const uint64_t sequence_count = load_le(bytes + 18, 8);
  const uint64_t document_index_count = load_le(bytes + 26, 8);

  // The file must hold exactly the three arrays after the header. Bound the counts by the file
  // size first so that 12 * S + 8 * D cannot overflow.
  const uint64_t body_bytes = idx_bytes - kHeaderBytes;
  if (sequence_count > body_bytes / 12 || document_index_count > body_bytes / 8 ||
      12 * sequence_count + 8 * document_index_count > body_bytes) {
    fail(idx_path, "header says " + std::to_string(sequence_count) + " sequences and " +
                       std::to_string(document_index_count) +
                       " document indices, which need more than the " + std::to_string(body_bytes) +
                       " bytes after the header (truncated .idx?)");
  }
  const uint64_t expected_idx_bytes = kHeaderBytes + 12 * sequence_count + 8 * document_index_count;
  if (idx_bytes != expected_idx_bytes) {
    fail(idx_path, "file is " + std::to_string(idx_bytes) + " bytes, expected " +
                       std::to_string(expected_idx_bytes) + " for " +
                       std::to_string(sequence_count) + " sequences and " +
                       std::to_string(document_index_count) +
                       " document indices (trailing bytes; multimodal modes are not supported)");
  }

  // Arrays: lengths int32[S], pointers int64[S], document indices int64[D].
  const unsigned char* lengths_at = bytes + kHeaderBytes;
  const unsigned char* pointers_at = lengths_at + 4 * sequence_count;
  const unsigned char* documents_at = pointers_at + 8 * sequence_count;
  data.sequence_lengths.resize(sequence_count);
  data.sequence_pointers.resize(sequence_count);
  data.document_indices.resize(document_index_count);
  for (uint64_t i = 0; i < sequence_count; ++i) {
    data.sequence_lengths[i] = static_cast<int32_t>(load_le(lengths_at + 4 * i, 4));
    data.sequence_pointers[i] = static_cast<int64_t>(load_le(pointers_at + 8 * i, 8));
  }
  for (uint64_t d = 0; d < document_index_count; ++d) {
    data.document_indices[d] = static_cast<int64_t>(load_le(documents_at + 8 * d, 8));
  }

  // Pointers are the running sum of lengths x element size, starting at 0.
  // lengths [3, 1] of uint16: pointers [0, 6], .bin 8 bytes.
  uint64_t expected_pointer = 0;
  for (uint64_t i = 0; i < sequence_count; ++i) {
    const int32_t length = data.sequence_lengths[i];
    if (length < 0) {
      fail(idx_path,
           "sequence " + std::to_string(i) + " has negative length " + std::to_string(length));
    }
    if (data.sequence_pointers[i] < 0 ||
        static_cast<uint64_t>(data.sequence_pointers[i]) != expected_pointer) {
      fail(idx_path, "sequence " + std::to_string(i) + " pointer is " +
                         std::to_string(data.sequence_pointers[i]) + ", expected " +
                         std::to_string(expected_pointer) + " (the sum of the earlier lengths x " +
                         std::to_string(data.element_bytes) + " bytes)");
    }
    uint64_t sequence_bytes = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(length), data.element_bytes,
                               &sequence_bytes) ||
        __builtin_add_overflow(expected_pointer, sequence_bytes, &expected_pointer)) {
      fail(idx_path, "sequence lengths overflow 64-bit byte offsets");
    }
  }

  // Document indices: 0, non-decreasing, ending at S.
  if (document_index_count == 0) {
    fail(idx_path, "no document indices; expected at least the leading 0");
  }
  if (data.document_indices.front() != 0) {
    fail(idx_path, "document_indices[0] is " + std::to_string(data.document_indices.front()) +
                       ", expected 0");
  }
  for (uint64_t d = 1; d < document_index_count; ++d) {
    if (data.document_indices[d] < data.document_indices[d - 1]) {
      fail(idx_path, "document_indices[" + std::to_string(d) + "] is " +
                         std::to_string(data.document_indices[d]) +
                         ", less than document_indices[" + std::to_string(d - 1) +
                         "] = " + std::to_string(data.document_indices[d - 1]));
    }
  }
  if (static_cast<uint64_t>(data.document_indices.back()) != sequence_count) {
    fail(idx_path, "last document index is " + std::to_string(data.document_indices.back()) +
                       ", expected the sequence count " + std::to_string(sequence_count));
  }

  // .bin: exactly the tokens the index describes.
  std::error_code error;
  data.bin_bytes = fs::file_size(data.bin_path, error);
  if (error) fail(data.bin_path, "cannot stat: " + error.message());
  if (data.bin_bytes != expected_pointer) {
    fail(data.bin_path, "file is " + std::to_string(data.bin_bytes) + " bytes, but the index's " +
                            std::to_string(sequence_count) + " sequences need " +
                            std::to_string(expected_pointer) + " bytes of " + data.dtype_name);
  }
  return data;
}

std::vector<int64_t> MegatronDataset::sequence(size_t i) const {
  if (i >= sequence_count()) {
    throw std::runtime_error("megatron dataset " + bin_path.string() + ": sequence " +
                             std::to_string(i) + " out of range (" +
                             std::to_string(sequence_count()) + " sequences)");
  }
  if (dtype_name == "float32" || dtype_name == "float64") {
    throw std::runtime_error("megatron dataset " + bin_path.string() + ": dtype " + dtype_name +
                             " holds floats, not token ids");
  }
  const auto length = static_cast<size_t>(sequence_lengths[i]);
  std::string raw(length * element_bytes, '\0');
  std::ifstream in(bin_path, std::ios::binary);
  in.seekg(sequence_pointers[i]);
  in.read(raw.data(), static_cast<std::streamsize>(raw.size()));
  if (!in) {
    throw std::runtime_error("megatron dataset " + bin_path.string() + ": cannot read sequence " +
                             std::to_string(i) + " (" + std::to_string(raw.size()) +
                             " bytes at offset " + std::to_string(sequence_pointers[i]) + ")");
  }

  // Widen each little-endian element, sign-extending the signed dtypes.
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  const bool is_signed = dtype_name[0] == 'i';
  std::vector<int64_t> tokens(length);
  for (size_t k = 0; k < length; ++k) {
    const uint64_t bits = load_le(p + k * element_bytes, element_bytes);
    const unsigned width = 8 * static_cast<unsigned>(element_bytes);
    if (is_signed && width < 64 && (bits >> (width - 1)) != 0) {
      tokens[k] = static_cast<int64_t>(bits) - (int64_t{1} << width);
    } else {
      tokens[k] = static_cast<int64_t>(bits);
    }
  }
  return tokens;
}

}  // namespace longctx::testing
