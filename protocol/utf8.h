// UTF-8 validity, the rule for every id and user name on the wire (and in a
// token's `sub`): shared by the state machine's checks (storage/validate.h)
// and by the shell, which mints tokens without knowing storage.
#pragma once

#include <string_view>

namespace admit {

// Overlong forms, surrogates and code points past U+10FFFF are invalid.
bool is_valid_utf8(std::string_view text);

}  // namespace admit
