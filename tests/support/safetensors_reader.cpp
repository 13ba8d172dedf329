#include "support/safetensors_reader.h"

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace longctx::testing {

namespace {

struct RawFile {
  std::string file;
  uint64_t header_size = 0;
  nlohmann::json header;
};

RawFile read_raw(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  RawFile raw;
  raw.file.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  const std::string& file = raw.file;
  if (file.size() < 8) throw std::runtime_error(path.string() + ": shorter than its header size");
  for (int i = 7; i >= 0; --i) raw.header_size = raw.header_size << 8 | static_cast<uint8_t>(file[i]);
  if (8 + raw.header_size > file.size())
    throw std::runtime_error(path.string() + ": header too long");
  raw.header = nlohmann::json::parse(file.substr(8, raw.header_size));
  return raw;
}

}  // namespace

std::vector<std::string> safetensors_tensor_names(const std::filesystem::path& path) {
  const RawFile raw = read_raw(path);
  std::vector<std::string> names;
  for (auto it = raw.header.begin(); it != raw.header.end(); ++it)
    if (it.key() != "__metadata__") names.push_back(it.key());
  return names;
}

SafetensorsTensor read_safetensors_tensor(const std::filesystem::path& path,
                                          const std::string& name) {
  RawFile raw = read_raw(path);
  const std::string& file = raw.file;
  const uint64_t header_size = raw.header_size;
  const nlohmann::json& header = raw.header;
  if (!header.contains(name)) throw std::runtime_error(path.string() + " has no tensor " + name);
  const nlohmann::json& t = header[name];
  uint64_t begin = t["data_offsets"][0], end = t["data_offsets"][1];
  uint64_t data = 8 + header_size;
  if (begin > end || data + end > file.size())
    throw std::runtime_error(path.string() + ": " + name + "'s data is out of the file");
  return {t["dtype"].get<std::string>(), t["shape"].get<std::vector<int64_t>>(),
          file.substr(data + begin, end - begin)};
}

}  // namespace longctx::testing
