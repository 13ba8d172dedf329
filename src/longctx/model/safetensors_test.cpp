#include "longctx/model/safetensors.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "longctx/base/error.h"
#include "longctx/base/files.h"
#include "support/fixtures.h"

namespace longctx {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::TempDir;

const fs::path kFixtures = fs::path(LONGCTX_SOURCE_DIR) / "tests/model";

std::span<const std::byte> as_bytes(const std::string& s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

std::string hex(std::span<const std::byte> bytes) {
  std::string out;
  for (std::byte b : bytes) out += fmt::format("{:02x}", std::to_integer<unsigned>(b));
  return out;
}

// Bytes whose values are their positions: byte i = i mod 251.
std::string positions(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i % 251);
  return s;
}

std::string le64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
  return out;
}

// A file from raw parts: the length field (default: the header's size), header, data.
fs::path raw_file(const fs::path& dir, const std::string& header, const std::string& data,
                  std::optional<uint64_t> length = std::nullopt) {
  fs::path path = dir / "bad.safetensors";
  testing::write_file(path, le64(length.value_or(header.size())) + header + data);
  return path;
}

// The message of the Error that opening `path` throws ("" when it opens).
std::string open_error(const fs::path& path) {
  try {
    SafetensorsFile::open(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(Safetensors, RoundTripKeepsEveryDtypeShapeAndByte) {
  TempDir dir;
  std::string f32 = positions(24), bf16 = positions(8), i64 = positions(16), u8 = positions(3),
              f64 = positions(8), scalar = positions(4);
  std::vector<TensorToWrite> tensors = {
      {"model.layers.0.mlp.up_proj.weight", DType::kF32, {2, 3}, as_bytes(f32)},
      {"model.norm.weight", DType::kBF16, {4}, as_bytes(bf16)},
      {"ids", DType::kI64, {2}, as_bytes(i64)},
      {"flags", DType::kU8, {3}, as_bytes(u8)},
      {"x", DType::kF64, {1, 1}, as_bytes(f64)},
      {"scalar", DType::kI32, {}, as_bytes(scalar)},
      {"empty", DType::kF16, {0, 7}, {}},
  };
  fs::path path = dir.path() / "model.safetensors";
  write_safetensors(path, tensors);

  SafetensorsFile f = SafetensorsFile::open(path);
  EXPECT_EQ(f.metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
  ASSERT_EQ(f.tensors().size(), tensors.size());
  for (const TensorToWrite& t : tensors) {
    const TensorView& v = f.at(t.name);
    EXPECT_EQ(v.dtype, t.dtype) << t.name;
    EXPECT_EQ(v.shape, t.shape) << t.name;
    EXPECT_EQ(hex(v.bytes), hex(t.bytes)) << t.name;
    // Every tensor starts aligned to its dtype (the mapping starts on a page), as the
    // reference writer arranges: the header is padded to 8 bytes, wider dtypes come first.
    EXPECT_EQ(reinterpret_cast<uintptr_t>(v.bytes.data()) % dtype_bytes(v.dtype), 0u) << t.name;
  }
  EXPECT_EQ(f.at("scalar").numel(), 1);
  EXPECT_EQ(f.at("empty").numel(), 0);
  EXPECT_EQ(f.header_bytes() % 8, 0u);
  EXPECT_EQ(read_file(path).size(), 8 + f.header_bytes() + 24 + 8 + 16 + 3 + 8 + 4);
}

TEST(Safetensors, LayoutIsTheReferenceWritersLayout) {
  // The examples of the reference implementation's tests: one F32 tensor [1, 2, 3] = 0..5 and
  // no metadata gives a 64-byte header (no padding needed), then the 24 data bytes; named
  // "attn0" with shape [1, 1, 2, 3] the header is 65 bytes, padded with 7 spaces to 72.
  TempDir dir;
  float values[6] = {0, 1, 2, 3, 4, 5};
  const std::string data(reinterpret_cast<char*>(values), 24);
  std::vector<TensorToWrite> one = {{"attn.0", DType::kF32, {1, 2, 3}, as_bytes(data)}};
  fs::path path = dir.path() / "a.safetensors";
  write_safetensors(path, one, {});
  std::string header = R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})";
  ASSERT_EQ(header.size(), 64u);
  EXPECT_EQ(read_file(path), le64(64) + header + data);
  one = {{"attn0", DType::kF32, {1, 1, 2, 3}, as_bytes(data)}};
  write_safetensors(path, one, {});
  header = R"({"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}})";
  ASSERT_EQ(header.size(), 65u);
  EXPECT_EQ(read_file(path), le64(72) + header + "       " + data);

  // No tensors: "{}" padded to 8 bytes. With metadata, "__metadata__" comes first.
  write_safetensors(path, {}, {});
  EXPECT_EQ(read_file(path), le64(8) + "{}      ");
  write_safetensors(path, {}, {{"framework", "pt"}});
  EXPECT_EQ(read_file(path), le64(40) + R"({"__metadata__":{"framework":"pt"}})" + "     ");
}

TEST(Safetensors, DataOrderIsWidestDtypeFirstThenName) {
  std::string a = positions(2), b = positions(8), c = positions(4), d = positions(4);
  std::vector<TensorToWrite> tensors = {{"a", DType::kBF16, {1}, as_bytes(a)},
                                        {"b", DType::kI64, {1}, as_bytes(b)},
                                        {"d", DType::kF32, {1}, as_bytes(d)},
                                        {"c", DType::kF32, {1}, as_bytes(c)}};
  std::string header = safetensors_header_json(tensors, {{"format", "pt"}});
  EXPECT_EQ(header, R"({"__metadata__":{"format":"pt"},)"
                    R"("b":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},)"
                    R"("c":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},)"
                    R"("d":{"dtype":"F32","shape":[1],"data_offsets":[12,16]},)"
                    R"("a":{"dtype":"BF16","shape":[1],"data_offsets":[16,18]}})");
}

TEST(Safetensors, ReadsTheIndependentPythonWritersFixture) {
  // tests/model/fixture.safetensors comes from scripts/make_safetensors_fixture.py: entries in
  // reverse order, metadata last, spaces after separators, \u escapes, no header padding.
  SafetensorsFile f = SafetensorsFile::open(kFixtures / "fixture.safetensors");
  json expected = json::parse(read_file(kFixtures / "fixture.json"))["tensors"];
  EXPECT_EQ(f.metadata(),
            (std::map<std::string, std::string>{{"format", "pt"}, {"source", "python"}}));
  ASSERT_EQ(f.tensors().size(), expected.size());
  for (const auto& [name, want] : expected.items()) {
    ASSERT_TRUE(f.contains(name)) << name;
    const TensorView& v = f.at(name);
    EXPECT_EQ(dtype_name(v.dtype), want["dtype"].get<std::string>()) << name;
    EXPECT_EQ(v.shape, want["shape"].get<std::vector<int64_t>>()) << name;
    EXPECT_EQ(hex(v.bytes), want["hex"].get<std::string>()) << name;
  }
  // Values are positions: embed_tokens is 0..5 in float32.
  const TensorView& embed = f.at("model.embed_tokens.weight");
  for (int i = 0; i < 6; ++i) {
    float x;
    std::memcpy(&x, embed.bytes.data() + 4 * i, 4);
    EXPECT_EQ(x, static_cast<float>(i));
  }
  EXPECT_TRUE(f.contains("\u00fcnic\u00f6de.weight"));  // decoded from \u escapes
}

TEST(Safetensors, ReadsThePythonShardedFixtureAsOneSet) {
  json expected = json::parse(read_file(kFixtures / "fixture.json"))["tensors"];
  SafetensorsSet set = SafetensorsSet::open(kFixtures / "sharded");
  EXPECT_EQ(set.source(), kFixtures / "sharded" / "model.safetensors.index.json");
  EXPECT_EQ(set.files().size(), 2u);
  ASSERT_EQ(set.tensors().size(), expected.size());
  for (const auto& [name, want] : expected.items()) {
    EXPECT_EQ(hex(set.at(name).bytes), want["hex"].get<std::string>()) << name;
  }
  EXPECT_EQ(set.file_of("counts"), fs::path("model-00001-of-00002.safetensors"));
  EXPECT_EQ(set.file_of("mask"), fs::path("model-00002-of-00002.safetensors"));
  EXPECT_EQ(set.index_metadata()["total_size"].get<uint64_t>(),
            24u + 8 + 8 + 24 + 5 + 2 + 8 + 4 + 4);
  // The index file itself and a single file open too.
  EXPECT_EQ(
      SafetensorsSet::open(kFixtures / "sharded/model.safetensors.index.json").tensors().size(),
      expected.size());
  EXPECT_EQ(SafetensorsSet::open(kFixtures / "fixture.safetensors").tensors().size(),
            expected.size());
}

TEST(Safetensors, ShardedWriterCutsAsSavePretrainedAndWritesAnIndex) {
  TempDir dir;
  // Sizes 40, 40, 16, 100, 8, 8 under a 64-byte limit, cut as huggingface_hub does: a tensor
  // over the limit becomes a shard at once, while the open shard goes on filling:
  // [t0 40] [t3 100] [t1 40, t2 16, t4 8] [t5 8].
  std::vector<std::string> data = {positions(40),  positions(40), positions(16),
                                   positions(100), positions(8),  positions(8)};
  std::vector<TensorToWrite> tensors;
  for (size_t i = 0; i < data.size(); ++i) {
    tensors.push_back({fmt::format("t{}", i),
                       DType::kU8,
                       {static_cast<int64_t>(data[i].size())},
                       as_bytes(data[i])});
  }
  testing::write_file(dir.path() / "model.safetensors", "stale single file");
  std::vector<fs::path> files = write_safetensors_sharded(dir.path(), tensors, 64);
  ASSERT_EQ(files.size(), 5u);
  EXPECT_EQ(files[0].filename(), "model-00001-of-00004.safetensors");
  EXPECT_EQ(files[3].filename(), "model-00004-of-00004.safetensors");
  EXPECT_EQ(files[4].filename(), "model.safetensors.index.json");
  EXPECT_FALSE(fs::exists(dir.path() / "model.safetensors"));  // the stale file is gone

  json index = json::parse(read_file(files[4]));
  EXPECT_EQ(index["metadata"]["total_size"], 212);
  EXPECT_EQ(index["weight_map"]["t0"], "model-00001-of-00004.safetensors");
  EXPECT_EQ(index["weight_map"]["t3"], "model-00002-of-00004.safetensors");
  EXPECT_EQ(index["weight_map"]["t1"], "model-00003-of-00004.safetensors");
  EXPECT_EQ(index["weight_map"]["t2"], "model-00003-of-00004.safetensors");
  EXPECT_EQ(index["weight_map"]["t4"], "model-00003-of-00004.safetensors");
  EXPECT_EQ(index["weight_map"]["t5"], "model-00004-of-00004.safetensors");
  EXPECT_EQ(read_file(files[4]), index.dump(2) + "\n");  // indent 2, keys sorted

  SafetensorsSet set = SafetensorsSet::open(dir.path());
  ASSERT_EQ(set.tensors().size(), tensors.size());
  for (const TensorToWrite& t : tensors) EXPECT_EQ(hex(set.at(t.name).bytes), hex(t.bytes));

  // Saving again into one file removes the shards and the index.
  files = write_safetensors_sharded(dir.path(), tensors, 1000);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].filename(), "model.safetensors");
  EXPECT_FALSE(fs::exists(dir.path() / "model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(dir.path() / "model-00001-of-00004.safetensors"));
  EXPECT_EQ(SafetensorsSet::open(dir.path()).tensors().size(), tensors.size());
}

TEST(Safetensors, WriterRefusesBadTensors) {
  TempDir dir;
  std::string four = positions(4);
  auto write = [&](std::vector<TensorToWrite> tensors) -> std::string {
    try {
      write_safetensors(dir.path() / "x.safetensors", tensors);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_TRUE(contains(write({{"a", DType::kF32, {2}, as_bytes(four)}}), "needs 8"));
  EXPECT_TRUE(contains(
      write({{"a", DType::kU8, {4}, as_bytes(four)}, {"a", DType::kU8, {4}, as_bytes(four)}}),
      "'a' is given twice"));
  EXPECT_TRUE(contains(write({{"__metadata__", DType::kU8, {4}, as_bytes(four)}}),
                       "cannot write a tensor named"));
  EXPECT_TRUE(contains(write({{"a", DType::kU8, {-4}, as_bytes(four)}}), "needs"));
  EXPECT_FALSE(fs::exists(dir.path() / "x.safetensors"));
}

// Each corruption gives its own error, naming the file and, where there is one, the tensor.
TEST(Safetensors, CorruptFilesGiveErrorsNamingFileAndTensor) {
  TempDir dir;
  const std::string ok = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  auto check = [&](const char* what, const fs::path& path, const std::string& want) {
    std::string error = open_error(path);
    EXPECT_TRUE(contains(error, want)) << what << ": " << error;
    EXPECT_TRUE(contains(error, path.string())) << what << ": " << error;
  };

  testing::write_file(dir.path() / "short.safetensors", "abc");
  check("too short", dir.path() / "short.safetensors", "holds 3 bytes, fewer than the 8");
  check("header too large", raw_file(dir.path(), ok, positions(8), 200'000'000),
        "over the 100000000-byte limit");
  check("header past end", raw_file(dir.path(), ok, "", 4096), "runs past the end of the file");
  check("not an object", raw_file(dir.path(), "[" + ok + "]", positions(8)),
        "does not start with '{'");
  check("bad JSON", raw_file(dir.path(), R"({"w":{"dtype":)", ""), "not valid JSON");
  check("invalid UTF-8", raw_file(dir.path(), "{\"w\xff\":{}}", ""), "not valid JSON");
  check("entry not an object", raw_file(dir.path(), R"({"w":1})", ""),
        "tensor 'w': expected an object");
  check("unknown dtype",
        raw_file(dir.path(), R"({"w":{"dtype":"F7","shape":[2],"data_offsets":[0,8]}})",
                 positions(8)),
        "tensor 'w': unknown dtype \"F7\"");
  check("missing shape",
        raw_file(dir.path(), R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", positions(8)),
        "tensor 'w': missing or non-array \"shape\"");
  check("negative dim",
        raw_file(dir.path(), R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})",
                 positions(8)),
        "not a non-negative integer");
  check(
      "offsets arity",
      raw_file(dir.path(), R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", positions(8)),
      "two non-negative integers");
  check("end before begin",
        raw_file(dir.path(), R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})",
                 positions(8)),
        "end before they begin");
  check("shape x dtype != bytes",
        raw_file(dir.path(), R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})",
                 positions(8)),
        "tensor 'w': data_offsets [0, 8] hold 8 bytes, but shape [3] x F32 (4 bytes each) "
        "needs 12");
  check("shape overflow",
        raw_file(dir.path(),
                 R"({"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})",
                 positions(8)),
        "overflows");
  check("gap",
        raw_file(dir.path(),
                 R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                 R"("b":{"dtype":"U8","shape":[4],"data_offsets":[6,10]}})",
                 positions(10)),
        "tensor 'b': data_offsets [6, 10] leave a gap: the previous tensor 'a' ends at 4");
  check("overlap",
        raw_file(dir.path(),
                 R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                 R"("b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})",
                 positions(6)),
        "tensor 'b': data_offsets [2, 6] overlap");
  check("not from 0",
        raw_file(dir.path(), R"({"w":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})",
                 positions(8)),
        "the buffer starts at 0");
  check("truncated data", raw_file(dir.path(), ok, positions(5)),
        "the tensors cover 8 bytes (the last, 'w', ends at 8) but the data buffer holds 5");
  check("trailing bytes", raw_file(dir.path(), ok, positions(9)),
        "but the data buffer holds 9 bytes");
  check("metadata not strings", raw_file(dir.path(), R"({"__metadata__":{"format":1}})", ""),
        "\"__metadata__\" value of \"format\" is 1, not a string");
  // The hint says what to do about a truncated file.
  try {
    SafetensorsFile::open(raw_file(dir.path(), ok, positions(5)));
    ADD_FAILURE() << "truncated file opened";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.hint(), "truncated")) << e.hint();
  }
}

TEST(Safetensors, InconsistentIndexIsAnError) {
  TempDir dir;
  std::string four = positions(4);
  std::vector<TensorToWrite> a = {{"a", DType::kU8, {4}, as_bytes(four)}};
  std::vector<TensorToWrite> b = {{"b", DType::kU8, {4}, as_bytes(four)}};
  write_safetensors(dir.path() / "s1.safetensors", a);
  write_safetensors(dir.path() / "s2.safetensors", b);
  fs::path index = dir.path() / "model.safetensors.index.json";
  auto error = [&](const json& doc) -> std::string {
    testing::write_file(index, doc.dump());
    try {
      SafetensorsSet::open(dir.path());
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(error({{"weight_map", {{"a", "s1.safetensors"}, {"b", "s2.safetensors"}}}}), "");
  EXPECT_EQ(error({{"weight_map", {{"a", "s1.safetensors"}}}}), "");  // s2 is not part of it
  EXPECT_TRUE(contains(error({{"weight_map", {{"a", "s1.safetensors"}, {"c", "s1.safetensors"}}}}),
                       "lists tensor 'c' in s1.safetensors, which does not hold it"));
  EXPECT_TRUE(contains(error({{"weight_map", {{"a", "s2.safetensors"}, {"b", "s2.safetensors"}}}}),
                       "lists tensor 'a' in s2.safetensors, which does not hold it"));
  EXPECT_TRUE(contains(error({{"weight_map", {{"a", "missing.safetensors"}}}}), "cannot open"));
  EXPECT_TRUE(contains(error({{"weight_map", {{"a", 3}}}}), "not a file name"));
  EXPECT_TRUE(contains(error({{"metadata", {}}}), "\"weight_map\" object"));
  // A shard holding a tensor the index places elsewhere.
  write_safetensors(dir.path() / "s2.safetensors",
                    std::vector<TensorToWrite>{{"a", DType::kU8, {4}, as_bytes(four)},
                                               {"b", DType::kU8, {4}, as_bytes(four)}});
  EXPECT_TRUE(contains(error({{"weight_map", {{"a", "s1.safetensors"}, {"b", "s2.safetensors"}}}}),
                       "holds tensor 'a', which"));
  // A directory with neither a single file nor an index.
  fs::remove(index);
  try {
    SafetensorsSet::open(dir.path());
    ADD_FAILURE() << "opened a directory without model.safetensors";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "holds neither model.safetensors nor")) << e.what();
  }
}

}  // namespace
}  // namespace longctx
