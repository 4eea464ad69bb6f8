// Named limits of the HTTP adapter (DESIGN.md "HTTP API"). Past each one the
// answer is the status named beside it, with a JSON body naming the limit.
#pragma once

#include <cstddef>
#include <cstdint>

#include "admit/limits.h"

namespace admit::server::http {

// Request line and headers together, CRLFs included: past it, 431.
inline constexpr std::size_t header_bytes_max = 8 * 1024;
// A request body: past it, 413, decided from Content-Length before any body
// byte is kept (a chunked body: as soon as its chunks pass it).
inline constexpr std::size_t body_bytes_max = 64 * 1024;
// Requests parsed on one connection and not yet answered; past it the
// connection reads no more until answers leave (pipelining back-pressure).
inline constexpr std::size_t pipelined_requests_max = 64;
// Path segments and query values, decoded, are bounded by the protocol's
// field limits; this bounds a query string as a whole.
inline constexpr std::size_t query_parameters_max = 8;
// A header name the adapter reads is at most this long ("Idempotency-Key").
inline constexpr std::size_t known_header_name_size_max = 32;

// Reserved for a request's kept bytes (target, kept headers, body, and the
// padding simdjson reads past the body) when it starts: a typical API
// request then costs one allocation, not one per growth of the string.
inline constexpr std::size_t request_bytes_reserved = 256;
// Reserved for a JSON answer body when it starts (a booking ~150 bytes, an
// event ~330), for the same reason.
inline constexpr std::size_t answer_body_bytes_reserved = 384;
// An answer's status line and headers but for the values of variable size
// (body, Location, Allow): the whole answer's bytes are reserved at once.
inline constexpr std::size_t answer_head_bytes_max = 256;

inline constexpr std::int64_t header_timeout_ms_default = 10'000;
inline constexpr std::int64_t idle_timeout_ms_default = 60'000;

}  // namespace admit::server::http
