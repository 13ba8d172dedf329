#include "longctx/base/error.h"

#include <cstring>

namespace longctx {

std::string errno_text(int errnum) {
  return std::strerror(errnum);
}

}  // namespace longctx
