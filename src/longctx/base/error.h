// Errors. Library code never prints or exits: it throws longctx::Error, whose message says
// what was expected and what was found, and whose optional hint says how to fix it. The CLI
// catches once and prints `longctx <cmd>: error: <message>` followed by `hint: <hint>`.
//
//   throw Error(fmt::format("cannot open {}: {}", path, std::strerror(errno)),
//               "check the path, or pass a directory to read every corpus file in it");
#pragma once

#include <stdexcept>
#include <string>

namespace longctx {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, std::string hint = "")
      : std::runtime_error(message), hint_(std::move(hint)) {}
  const std::string& hint() const { return hint_; }

 private:
  std::string hint_;
};

// "No such file or directory" style text for errno.
std::string errno_text(int errnum);

}  // namespace longctx
