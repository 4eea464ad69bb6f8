// Incremental HTTP/1.1 request parsing for one connection, over Node's
// http_parser (Debian's libhttp-parser-dev). Accepts any split of the bytes
// (down to 1-byte reads) and several pipelined requests in one read: parse()
// stops after each complete request so the caller can bound how many wait
// for answers. Enforces the header and body limits of http_limits.h. Keeps
// only what the adapter reads: the target, four headers and the body.
#pragma once

#include <http_parser.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "server/http/http_limits.h"

namespace admit::server::http {

enum class Method : std::uint8_t { get, head, post, put, patch, delete_, other };

// Bytes [offset, offset + size) of ParsedRequest::bytes.
struct Slice {
  std::uint32_t offset = 0;
  std::uint32_t size = 0;
};

struct ParsedRequest {
  Method method = Method::other;
  bool keep_alive = true;
  // HTTP/1.0: its keep-alive is not the default, so an answer that keeps the
  // connection says so (Connection: keep-alive), or the client waits for a close.
  bool http_1_0 = false;
  bool has_idempotency_key = false;  // present, even if empty
  bool has_authorization = false;
  std::string bytes;  // the target, the header values kept and the body, back to back
  Slice target;       // "/v1/events?after=x", as sent
  Slice idempotency_key, authorization, content_type, body;

  std::string_view view(Slice slice) const { return {bytes.data() + slice.offset, slice.size}; }
};

// Why a connection's bytes cannot be parsed: answer `status` with `message`,
// then close.
struct ParseError {
  int status = 400;
  std::string_view message;  // static text naming the limit or the fault
};

class RequestParser {
 public:
  enum class State : std::uint8_t { need_more, request_ready, failed };
  struct Step {
    State state = State::need_more;
    std::size_t consumed = 0;    // bytes of the input used, whatever the state
    bool send_continue = false;  // `Expect: 100-continue` accepted: send "100 Continue" now
  };

  RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Parses `input` up to the end of the next complete request. The caller
  // passes the unused rest again (with more bytes) on its next call.
  Step parse(std::string_view input);
  // The request completed by the last parse() (request_ready); the parser
  // then holds nothing but its own state.
  ParsedRequest take();
  // After State::failed. Once failed, the parser stays failed.
  ParseError error() const { return error_; }
  // No part of a request kept: what an idle keep-alive connection holds.
  bool idle() const {
    return !in_message_ && request_.bytes.capacity() <= std::string().capacity();
  }

 private:
  enum class KnownHeader : std::uint8_t {
    none,
    idempotency_key,
    authorization,
    content_type,
    expect
  };
  enum class Pause : std::uint8_t { none, headers_done, message_done, failed };

  static int on_message_begin(http_parser* parser);
  static int on_url(http_parser* parser, const char* at, std::size_t size);
  static int on_header_field(http_parser* parser, const char* at, std::size_t size);
  static int on_header_value(http_parser* parser, const char* at, std::size_t size);
  static int on_headers_complete(http_parser* parser);
  static int on_body(http_parser* parser, const char* at, std::size_t size);
  static int on_message_complete(http_parser* parser);
  static const http_parser_settings settings;

  Slice* slice_of(KnownHeader header);
  void append(Slice* slice, const char* at, std::size_t size);
  int fail(int status, std::string_view message);
  int check_headers();
  Step failed_step(std::size_t consumed);

  http_parser parser_{};
  ParsedRequest request_;
  ParseError error_;
  std::uint32_t header_bytes_ = 0;  // of the message being read, while in its headers
  std::uint8_t name_size_ = 0;      // of the header name being read; past the buffer: unknown
  bool name_too_long_ = false;
  bool in_message_ = false;
  bool in_body_ = false;
  bool in_value_ = false;
  bool has_expect_ = false;
  bool continue_pending_ = false;
  KnownHeader header_ = KnownHeader::none;
  Pause pause_ = Pause::none;
  Slice expect_;
  char name_[known_header_name_size_max];
};

}  // namespace admit::server::http
