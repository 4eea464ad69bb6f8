// Errors as values: every call of libadmit returns a Status (or Result<T>)
// that is either
//   - an answer from the server: error() == ClientError::none and outcome() is
//     the server's Outcome (BOOKED, SOLD_OUT, ...; refusals carry their data
//     in the value: retry_after_ms, opens_in_ms, position, ref), or
//   - a client-side failure: error() says which (the request was refused before
//     sending, or the server could not be reached, or the connection broke).
// Outcome is the protocol's own (protocol/enums.h includes this header): one
// definition, on the wire, in the server and here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace admit {

// Every request ends in exactly one outcome (DESIGN.md's outcome table).
enum class Outcome : std::uint8_t {
  ok = 0,
  booked,
  held,
  waitlisted,
  already_booked,
  sold_out,
  over_user_limit,
  not_open,
  closed,
  rate_limited,
  not_found,
  invalid,
  unauthorized,
  overloaded,
  unavailable,
};

// The DESIGN.md name, upper case: "BOOKED", "SOLD_OUT", ...
std::string_view outcome_name(Outcome outcome);
// OK, BOOKED, HELD, WAITLISTED and ALREADY_BOOKED are successes; the rest are not.
bool outcome_is_success(Outcome outcome);

enum class ClientError : std::uint8_t {
  none = 0,           // the server answered; see Status::outcome()
  invalid_argument,   // refused before sending; the message names the field
  could_not_connect,  // no connection to the server (message names the address)
  connection_lost,    // the connection broke before the answer came
  timed_out,          // no answer within ClientOptions::request_timeout
  protocol_error,     // the server sent something that is not a valid reply
  in_flight_full,     // AsyncClient: in_flight_max requests are waiting; poll() first
};

// "none", "invalid_argument", "could_not_connect", ...
std::string_view client_error_name(ClientError error);

class Status {
 public:
  Status() = default;  // an OK answer
  static Status answer(Outcome outcome, std::string message = {});
  static Status failure(ClientError error, std::string message);

  // The server answered with a success outcome (OK, BOOKED, HELD, WAITLISTED,
  // ALREADY_BOOKED).
  bool ok() const { return error_ == ClientError::none && outcome_is_success(outcome_); }
  // The server answered (with any outcome); false for client-side failures.
  bool answered() const { return error_ == ClientError::none; }
  ClientError error() const { return error_; }
  // Meaningful only when answered().
  Outcome outcome() const { return outcome_; }
  // Why, naming the field, for refusals and failures; empty on success.
  const std::string& message() const { return message_; }
  // "BOOKED", "SOLD_OUT: seats: ...", "could_not_connect: 127.0.0.1:7400: ...".
  std::string to_string() const;

 private:
  ClientError error_ = ClientError::none;
  Outcome outcome_ = Outcome::ok;
  std::string message_;
};

// A Status and the reply's data. The value is filled whenever the server
// answered, refusals included (a SOLD_OUT BookReply, a RATE_LIMITED one with
// retry_after_ms); it is default-constructed after a client-side failure.
template <typename T>
class Result {
 public:
  Result() = default;
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design
  Result(Status status, T value) : status_(std::move(status)), value_(std::move(value)) {}

  bool ok() const { return status_.ok(); }
  bool answered() const { return status_.answered(); }
  ClientError error() const { return status_.error(); }
  Outcome outcome() const { return status_.outcome(); }
  const std::string& message() const { return status_.message(); }
  const Status& status() const { return status_; }
  const T& value() const { return value_; }
  T& value() { return value_; }
  const T* operator->() const { return &value_; }
  const T& operator*() const { return value_; }

 private:
  Status status_;
  T value_{};
};

}  // namespace admit
