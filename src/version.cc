#include "convkit/version.h"

namespace convkit {

std::string_view version() { return CONVKIT_VERSION; }

}  // namespace convkit
