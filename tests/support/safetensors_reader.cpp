#include "support/safetensors_reader.h"

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace longctx::testing {

SafetensorsTensor read_safetensors_tensor(const std::filesystem::path& path,
                                          const std::string& name) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (file.size() < 8) throw std::runtime_error(path.string() + ": shorter than its header size");
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = header_size << 8 | static_cast<uint8_t>(file[i]);
  if (8 + header_size > file.size()) throw std::runtime_error(path.string() + ": header too long");
  nlohmann::json header = nlohmann::json::parse(file.substr(8, header_size));
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
