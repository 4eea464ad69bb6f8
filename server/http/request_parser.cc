#include "server/http/request_parser.h"

#include <algorithm>
#include <array>
#include <climits>
#include <utility>

namespace admit::server::http {
namespace {

// The refusal messages spell the limits out.
static_assert(header_bytes_max == 8192 && body_bytes_max == 65536);

RequestParser& self(http_parser* parser) { return *static_cast<RequestParser*>(parser->data); }

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

Method method_of(unsigned method) {
  switch (static_cast<http_method>(method)) {
    case HTTP_GET:
      return Method::get;
    case HTTP_HEAD:
      return Method::head;
    case HTTP_POST:
      return Method::post;
    case HTTP_PUT:
      return Method::put;
    case HTTP_PATCH:
      return Method::patch;
    case HTTP_DELETE:
      return Method::delete_;
    default:
      return Method::other;
  }
}

}  // namespace

const http_parser_settings RequestParser::settings = [] {
  http_parser_settings s;
  http_parser_settings_init(&s);
  s.on_message_begin = &RequestParser::on_message_begin;
  s.on_url = &RequestParser::on_url;
  s.on_header_field = &RequestParser::on_header_field;
  s.on_header_value = &RequestParser::on_header_value;
  s.on_headers_complete = &RequestParser::on_headers_complete;
  s.on_body = &RequestParser::on_body;
  s.on_message_complete = &RequestParser::on_message_complete;
  return s;
}();

RequestParser::RequestParser() {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
}

int RequestParser::fail(int status, std::string_view message) {
  error_ = {status, message};
  pause_ = Pause::failed;
  http_parser_pause(&parser_, 1);
  return 0;
}

Slice* RequestParser::slice_of(KnownHeader header) {
  switch (header) {
    case KnownHeader::idempotency_key:
      return &request_.idempotency_key;
    case KnownHeader::authorization:
      return &request_.authorization;
    case KnownHeader::content_type:
      return &request_.content_type;
    case KnownHeader::expect:
      return &expect_;
    case KnownHeader::none:
      break;
  }
  return nullptr;
}

// Fragments of one item arrive in order with nothing else between them, so
// the item stays contiguous in `bytes`.
void RequestParser::append(Slice* slice, const char* at, std::size_t size) {
  if (slice->size == 0) slice->offset = static_cast<std::uint32_t>(request_.bytes.size());
  request_.bytes.append(at, size);
  slice->size += static_cast<std::uint32_t>(size);
}

int RequestParser::on_message_begin(http_parser* parser) {
  RequestParser& p = self(parser);
  p.in_message_ = true;
  p.request_.bytes.reserve(request_bytes_reserved);  // idle() holds when not in a message
  return 0;
}

int RequestParser::on_url(http_parser* parser, const char* at, std::size_t size) {
  RequestParser& p = self(parser);
  p.append(&p.request_.target, at, size);
  return 0;
}

int RequestParser::on_header_field(http_parser* parser, const char* at, std::size_t size) {
  RequestParser& p = self(parser);
  if (p.in_value_) {  // a new header begins
    p.in_value_ = false;
    p.name_size_ = 0;
    p.name_too_long_ = false;
  }
  // "Content-Length : 5" (RFC 9112 5.1: a server MUST reject it): a proxy in
  // front may ignore such a header while http_parser, lenient, honours it,
  // and the two would frame the body differently (request smuggling).
  if (std::string_view(at, size).find_first_of(" \t") != std::string_view::npos) {
    return p.fail(400, "headers: whitespace between a header name and its colon");
  }
  if (p.name_size_ + size > sizeof p.name_) {
    p.name_too_long_ = true;
    return 0;
  }
  std::copy_n(at, size, p.name_ + p.name_size_);
  p.name_size_ = static_cast<std::uint8_t>(p.name_size_ + size);
  return 0;
}

int RequestParser::on_header_value(http_parser* parser, const char* at, std::size_t size) {
  RequestParser& p = self(parser);
  if (!p.in_value_) {  // the name is complete: is it one the adapter reads?
    p.in_value_ = true;
    const std::string_view name(p.name_, p.name_too_long_ ? 0 : p.name_size_);
    static constexpr std::array<std::pair<std::string_view, KnownHeader>, 4> known = {{
        {"Idempotency-Key", KnownHeader::idempotency_key},
        {"Authorization", KnownHeader::authorization},
        {"Content-Type", KnownHeader::content_type},
        {"Expect", KnownHeader::expect},
    }};
    p.header_ = KnownHeader::none;
    for (const auto& [known_name, header] : known) {
      if (equal_ignoring_case(name, known_name)) p.header_ = header;
    }
    bool* seen = p.header_ == KnownHeader::idempotency_key ? &p.request_.has_idempotency_key
                 : p.header_ == KnownHeader::authorization ? &p.request_.has_authorization
                 : p.header_ == KnownHeader::expect        ? &p.has_expect_
                                                           : nullptr;
    if (seen != nullptr && *seen) {
      return p.fail(400, "header: Idempotency-Key, Authorization or Expect sent twice");
    }
    if (seen != nullptr) *seen = true;
  }
  if (Slice* slice = p.slice_of(p.header_)) p.append(slice, at, size);
  return 0;
}

int RequestParser::check_headers() {
  if (parser_.http_major != 1) return fail(505, "request: only HTTP/1.0 and HTTP/1.1");
  if (parser_.upgrade) return fail(400, "request: Upgrade and CONNECT are not supported");
  const bool chunked = (parser_.flags & F_CHUNKED) != 0;
  if (!chunked && parser_.content_length != ULLONG_MAX && parser_.content_length > body_bytes_max) {
    return fail(413, "body: larger than 65536 bytes");
  }
  if (has_expect_ && !equal_ignoring_case(request_.view(expect_), "100-continue")) {
    return fail(417, "Expect: only 100-continue is understood");
  }
  const bool has_body =
      chunked || (parser_.content_length != ULLONG_MAX && parser_.content_length > 0);
  continue_pending_ = has_expect_ && has_body;
  pause_ = Pause::headers_done;
  http_parser_pause(&parser_, 1);
  return 0;
}

int RequestParser::on_headers_complete(http_parser* parser) {
  RequestParser& p = self(parser);
  p.in_body_ = true;
  p.request_.method = method_of(parser->method);
  return p.check_headers();
}

int RequestParser::on_body(http_parser* parser, const char* at, std::size_t size) {
  RequestParser& p = self(parser);
  if (p.request_.body.size + size > body_bytes_max) {
    return p.fail(413, "body: larger than 65536 bytes");
  }
  p.append(&p.request_.body, at, size);
  return 0;
}

int RequestParser::on_message_complete(http_parser* parser) {
  RequestParser& p = self(parser);
  p.request_.keep_alive = http_should_keep_alive(parser) != 0;
  p.request_.http_1_0 = parser->http_minor == 0;
  p.pause_ = Pause::message_done;
  http_parser_pause(parser, 1);
  return 0;
}

RequestParser::Step RequestParser::failed_step(std::size_t consumed) {
  if (pause_ != Pause::failed) {
    pause_ = Pause::failed;
    error_ = {400, "request: not HTTP/1.1"};
  }
  return {State::failed, consumed, false};
}

RequestParser::Step RequestParser::parse(std::string_view input) {
  if (pause_ == Pause::failed) return failed_step(0);
  std::size_t used = 0;
  // Each execute stops at most at one of headers-done or message-done, so
  // the loop turns at most three times per request (headers, body, end).
  while (used < input.size()) {
    std::size_t chunk = input.size() - used;
    if (!in_body_) chunk = std::min<std::size_t>(chunk, header_bytes_max - header_bytes_);
    const std::size_t parsed = http_parser_execute(&parser_, &settings, input.data() + used, chunk);
    used += parsed;
    if (!in_body_ || pause_ == Pause::headers_done) {
      header_bytes_ += static_cast<std::uint32_t>(parsed);
    }
    const http_errno status = HTTP_PARSER_ERRNO(&parser_);
    if (status == HPE_OK) {
      if (!in_body_ && header_bytes_ >= header_bytes_max) {
        fail(431, "headers: larger than 8192 bytes");
        return failed_step(used);
      }
      continue;
    }
    if (status != HPE_PAUSED || pause_ == Pause::failed) return failed_step(used);
    http_parser_pause(&parser_, 0);
    const Pause why = std::exchange(pause_, Pause::none);
    if (why == Pause::message_done) return {State::request_ready, used, false};
    if (std::exchange(continue_pending_, false)) return {State::need_more, used, true};
  }
  return {State::need_more, used, false};
}

ParsedRequest RequestParser::take() {
  ParsedRequest done = std::move(request_);
  request_ = ParsedRequest{};
  header_bytes_ = 0;
  name_size_ = 0;
  name_too_long_ = in_message_ = in_body_ = in_value_ = has_expect_ = continue_pending_ = false;
  header_ = KnownHeader::none;
  expect_ = {};
  return done;
}

}  // namespace admit::server::http
