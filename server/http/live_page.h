// GET /: the live sale page (issue 9, item 5), one static HTML document
// with its script and style inline: the events (GET /v1/events, paged), each
// with a bar of seats sold ((held + confirmed) / capacity), its counters and
// watcher count, kept live by one EventSource per watched event
// (GET /v1/events/{id}/watch). No build step, no CDN, no external fonts.
//
// Auth: EventSource cannot send an Authorization header, so the page's API
// calls carry no token; with --auth-secret they are refused (401) and the
// page says so. Keep it for servers without auth on loopback.
#pragma once

#include <string_view>

#include "server/http/response.h"

namespace admit::server::http {

inline constexpr std::string_view html_content_type = "text/html; charset=utf-8";

// The answer to GET /.
Answer live_page_answer();

}  // namespace admit::server::http
