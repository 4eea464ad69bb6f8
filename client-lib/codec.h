// Operations to FlatBuffers and back, and the checks of admit/limits.h done
// before anything is sent. Private to client-lib.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <string_view>

#include "admit/async_client.h"
#include "admit/client.h"
#include "request_pipeline.h"

namespace admit::codec {

// Each returns OK, or invalid_argument naming the field ("user: must be 1..64 bytes").
Status check_event_spec(const EventSpec& spec);
Status check_event_update(const EventUpdate& update);
Status check_event_id(std::string_view id, std::string_view field = "event");
Status check_book(const BookRequest& request);
Status check_ref(std::string_view ref);
Status check_user(std::string_view user);
Status check_request_id(std::string_view request_id);
Status check_limit(std::uint32_t limit);

using Builder = FrameBuilder;

EncodedOp encode_create_event(Builder& b, const EventSpec& spec);
EncodedOp encode_update_event(Builder& b, const EventUpdate& update);
EncodedOp encode_get_event(Builder& b, std::string_view id);
EncodedOp encode_list_events(Builder& b, std::string_view after, std::uint32_t limit);
EncodedOp encode_book(Builder& b, const BookRequest& request);
EncodedOp encode_confirm(Builder& b, std::string_view ref, std::string_view request_id);
EncodedOp encode_cancel(Builder& b, std::string_view ref, std::string_view request_id);
EncodedOp encode_get_booking(Builder& b, std::string_view ref);
EncodedOp encode_list_bookings(Builder& b, std::string_view event, std::string_view after,
                               std::uint32_t limit);
EncodedOp encode_waitlist_position(Builder& b, std::string_view event, std::string_view user);
EncodedOp encode_leave_waitlist(Builder& b, std::string_view event, std::string_view user,
                                std::string_view request_id);
EncodedOp encode_stats(Builder& b);
EncodedOp encode_watch(Builder& b, std::string_view event);
EncodedOp encode_unwatch(Builder& b, std::string_view event);
EncodedOp encode_hello(Builder& b, std::string_view token);

// The typed value of a reply, for the synchronous Client.
void decode(const ReplyView& reply, HelloInfo* out);
void decode(const ReplyView& reply, EventInfo* out);
void decode(const ReplyView& reply, EventPage* out);
void decode(const ReplyView& reply, BookReply* out);
void decode(const ReplyView& reply, BookingInfo* out);
void decode(const ReplyView& reply, BookingPage* out);
void decode(const ReplyView& reply, WaitlistInfo* out);
void decode(const ReplyView& reply, StatsInfo* out);

}  // namespace admit::codec
