#include "tests/http/http_test_client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "protocol/shard.h"

namespace admit::test {
namespace {

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* reply) {
  static_cast<Reply*>(reply)->body.append(data, size * count);
  return size * count;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* reply) {
  const std::string line(data, size * count);
  const std::size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    value.erase(value.find_last_not_of("\r\n") + 1);
    static_cast<Reply*>(reply)->headers[name] = value;
  }
  return size * count;
}

// The header block and Content-Length of the answer starting at `at`;
// false when it is not all there yet.
bool answer_end(const std::string& bytes, std::size_t at, std::size_t* end) {
  const std::size_t blank = bytes.find("\r\n\r\n", at);
  if (blank == std::string::npos) return false;
  std::size_t length = 0;
  std::string head = bytes.substr(at, blank - at);
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::size_t field = head.find("\r\ncontent-length:");
  if (field != std::string::npos) length = std::stoul(head.substr(field + 17));
  if (bytes.size() < blank + 4 + length) return false;
  *end = blank + 4 + length;
  return true;
}

}  // namespace

nlohmann::json Reply::json() const {
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_discarded()) return {{"not JSON", body}};
  return parsed;
}

std::string Reply::outcome() const {
  const nlohmann::json parsed = json();
  return parsed.contains("outcome") && parsed["outcome"].is_string() ? parsed["outcome"] : "";
}

std::string Reply::message() const {
  const nlohmann::json parsed = json();
  return parsed.contains("message") && parsed["message"].is_string() ? parsed["message"] : "";
}

std::string Reply::header(const std::string& lower_case_name) const {
  const auto found = headers.find(lower_case_name);
  return found == headers.end() ? "" : found->second;
}

Client::Client() : curl_(curl_easy_init()) {}
Client::~Client() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

Reply Client::send(const std::string& method, const std::string& url, const std::string& body,
                   const std::vector<std::string>& headers, bool may_fail) {
  CURL* curl = static_cast<CURL*>(curl_);
  Reply reply;
  curl_slist* list = nullptr;
  for (const auto& header : headers) list = curl_slist_append(list, header.c_str());
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (!body.empty()) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &reply);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, http_timeout_ms);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  // A server that never sends "100 Continue" would stall this request to the timeout.
  curl_easy_setopt(curl, CURLOPT_EXPECT_100_TIMEOUT_MS, 2 * http_timeout_ms);
  const CURLcode code = curl_easy_perform(curl);
  if (!may_fail) {
    EXPECT_EQ(code, CURLE_OK) << curl_easy_strerror(code) << " " << method << " " << url;
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &reply.new_connections);
  curl_slist_free_all(list);
  return reply;
}

std::vector<Reply> send_concurrently(const std::vector<Request>& requests) {
  std::vector<Reply> replies(requests.size());
  std::vector<CURL*> handles;
  std::vector<curl_slist*> lists;
  CURLM* multi = curl_multi_init();
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const Request& request = requests[i];
    CURL* curl = curl_easy_init();
    curl_slist* list = nullptr;
    for (const auto& header : request.headers) list = curl_slist_append(list, header.c_str());
    curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    if (!request.body.empty()) {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.c_str());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &replies[i]);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &replies[i]);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, http_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PRIVATE, reinterpret_cast<void*>(i));
    curl_multi_add_handle(multi, curl);
    handles.push_back(curl);
    lists.push_back(list);
  }
  int running = 0;
  do {
    curl_multi_perform(multi, &running);
    if (running > 0) curl_multi_poll(multi, nullptr, 0, 100, nullptr);
  } while (running > 0);
  int left = 0;
  while (CURLMsg* message = curl_multi_info_read(multi, &left)) {
    if (message->msg != CURLMSG_DONE) continue;
    void* index = nullptr;
    curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &index);
    const auto at = reinterpret_cast<std::size_t>(index);
    EXPECT_EQ(message->data.result, CURLE_OK) << curl_easy_strerror(message->data.result) << " "
                                              << requests[at].method << " " << requests[at].url;
    curl_easy_getinfo(message->easy_handle, CURLINFO_RESPONSE_CODE, &replies[at].status);
  }
  for (std::size_t i = 0; i < handles.size(); ++i) {
    curl_multi_remove_handle(multi, handles[i]);
    curl_easy_cleanup(handles[i]);
    curl_slist_free_all(lists[i]);
  }
  curl_multi_cleanup(multi);
  return replies;
}

std::string bearer(std::string_view secret, server::http::Role role, std::string sub,
                   std::optional<std::int64_t> exp_s) {
  return "Authorization: Bearer " + server::http::mint_token(secret, {role, std::move(sub), exp_s});
}

Raw::Raw(std::uint16_t port, int receive_timeout_ms) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{receive_timeout_ms / 1000, (receive_timeout_ms % 1000) * 1000};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  EXPECT_TRUE(connected_) << "connect to port " << port << ": " << std::strerror(errno);
}

Raw::~Raw() { ::close(fd_); }

bool Raw::send(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(sent));
  }
  return true;
}

std::string Raw::read_all(bool* timed_out) {
  std::string out;
  char chunk[4096];
  ssize_t got;
  while ((got = ::recv(fd_, chunk, sizeof chunk, 0)) > 0) out.append(chunk, got);
  if (timed_out != nullptr) *timed_out = got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  return out;
}

std::string Raw::read_answers(std::size_t count) {
  std::string out;
  char chunk[4096];
  while (complete_answers(out) < count) {
    const ssize_t got = ::recv(fd_, chunk, sizeof chunk, 0);
    if (got <= 0) break;
    out.append(chunk, got);
  }
  return out;
}

bool Raw::closed_by_server() {
  char chunk[4096];
  while (true) {
    const ssize_t got = ::recv(fd_, chunk, sizeof chunk, 0);
    if (got == 0) return true;
    if (got < 0) return errno == ECONNRESET;
  }
}

std::size_t Raw::send_some(std::string_view bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n =
        ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  return sent;
}

bool Raw::gone_without_reading(int wait_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  while (true) {
    tcp_info info{};
    socklen_t size = sizeof info;
    if (::getsockopt(fd_, IPPROTO_TCP, TCP_INFO, &info, &size) != 0) return true;
    if (info.tcpi_state != TCP_ESTABLISHED) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::vector<std::string> status_lines(const std::string& bytes) {
  std::vector<std::string> lines;
  std::size_t at = 0;
  std::size_t end = 0;
  while (at < bytes.size() && answer_end(bytes, at, &end)) {
    lines.push_back(bytes.substr(at, 12));
    at = end;
  }
  if (at < bytes.size()) lines.push_back("partial: " + bytes.substr(at, 12));
  return lines;
}

std::size_t complete_answers(const std::string& bytes) {
  std::size_t count = 0;
  std::size_t at = 0;
  std::size_t end = 0;
  while (at < bytes.size() && answer_end(bytes, at, &end)) {
    ++count;
    at = end;
  }
  return count;
}

nlohmann::json RawAnswer::json() const {
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_discarded()) return {{"not JSON", body}};
  return parsed;
}

std::vector<RawAnswer> split_answers(const std::string& bytes) {
  std::vector<RawAnswer> answers;
  std::size_t at = 0;
  std::size_t end = 0;
  while (at < bytes.size() && answer_end(bytes, at, &end)) {
    const std::size_t blank = bytes.find("\r\n\r\n", at);
    RawAnswer answer;
    answer.head = bytes.substr(at, blank - at);
    if (answer.head.starts_with("HTTP/1.1 ") && answer.head.size() >= 12) {
      answer.status = std::stoi(answer.head.substr(9, 3));
    }
    answer.body = bytes.substr(blank + 4, end - blank - 4);
    answers.push_back(std::move(answer));
    at = end;
  }
  return answers;
}

std::string raw_request(std::string_view method, std::string_view target, std::string_view body,
                        std::string_view extra_headers) {
  std::string request = std::string(method) + " " + std::string(target) +
                        " HTTP/1.1\r\nHost: test\r\n" + std::string(extra_headers);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return request + "\r\n" + std::string(body);
}

std::string event_on(std::uint32_t shard, std::uint32_t shards, std::string_view tag) {
  for (int i = 0;; ++i) {
    const std::string id = std::string(tag) + "-" + std::to_string(i);
    if (owner_shard(id, shards) == shard) return id;
  }
}

}  // namespace admit::test
