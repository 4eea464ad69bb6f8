// ReplyCallback: how AsyncClient (admit/async_client.h) stores a request's
// callback without allocating. Included by it; applications pass lambdas.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace admit {

class ReplyView;  // admit/async_client.h

// A move-only callable `void(const ReplyView&)` stored inline (no allocation);
// captures must fit in inline_size bytes.
class ReplyCallback {
 public:
  static constexpr std::size_t inline_size = 48;

  ReplyCallback() = default;
  template <typename F, typename D = std::decay_t<F>,
            typename = std::enable_if_t<!std::is_same_v<D, ReplyCallback> &&
                                        std::is_invocable_v<D&, const ReplyView&>>>
  ReplyCallback(F&& f) {  // NOLINT: implicit by design
    static_assert(sizeof(D) <= inline_size, "callback captures too much: capture a pointer");
    static_assert(alignof(D) <= alignof(std::max_align_t));
    static_assert(std::is_nothrow_move_constructible_v<D>);
    new (storage_) D(std::forward<F>(f));
    invoke_ = [](void* self, const ReplyView& reply) { (*static_cast<D*>(self))(reply); };
    manage_ = [](void* self, void* from) {
      if (from != nullptr) new (self) D(std::move(*static_cast<D*>(from)));
      static_cast<D*>(from != nullptr ? from : self)->~D();
    };
  }
  ReplyCallback(ReplyCallback&& other) noexcept { take(other); }
  ReplyCallback& operator=(ReplyCallback&& other) noexcept {
    if (this != &other) {
      reset();
      take(other);
    }
    return *this;
  }
  ~ReplyCallback() { reset(); }

  explicit operator bool() const { return invoke_ != nullptr; }
  void operator()(const ReplyView& reply) { invoke_(storage_, reply); }
  void reset() {
    if (manage_ != nullptr) manage_(storage_, nullptr);
    invoke_ = nullptr;
    manage_ = nullptr;
  }

 private:
  void take(ReplyCallback& other) {
    if (other.manage_ != nullptr) other.manage_(storage_, other.storage_);
    invoke_ = other.invoke_;
    manage_ = other.manage_;
    other.invoke_ = nullptr;
    other.manage_ = nullptr;
  }

  alignas(std::max_align_t) unsigned char storage_[inline_size];
  void (*invoke_)(void*, const ReplyView&) = nullptr;
  void (*manage_)(void* self, void* from) = nullptr;  // from: move into self; null: destroy
};

}  // namespace admit
