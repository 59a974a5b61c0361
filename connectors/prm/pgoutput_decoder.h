#pragma once

#include <string_view>

#include "connectors/prm/pgoutput_messages.h"
#include "mapping/sync_error.h"

namespace crmsync::connectors::prm {

// Decodes one pgoutput message (the payload of an XLogData frame). Pure: no I/O, no state.
// Malformed input (truncated, unknown tag, impossible counts) is an `invalid` error naming the
// message tag and the byte offset; it never reads past the end.
mapping::Result<PgOutputMessage> decode_pgoutput(std::string_view payload);

}  // namespace crmsync::connectors::prm
