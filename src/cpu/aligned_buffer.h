// A fixed-size, 64-byte aligned array of floats (one cache line, one AVX-512 vector) for packed
// weights and per-thread workspaces.
#pragma once

#include <cstddef>
#include <memory>
#include <new>

#include "allocation.h"

namespace convkit::cpu {

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  // An allocation failure is a convkit::Error naming `what` and the bytes it needed.
  explicit AlignedBuffer(std::size_t count, std::string_view what = "the packed weight buffer")
      : data_(allocating(what, static_cast<int64_t>(count), sizeof(float),
                         [&] { return static_cast<float*>(::operator new[](count * sizeof(float), kAlignment)); })),
        size_(count) {}

  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  std::size_t size() const { return size_; }
  std::size_t bytes() const { return size_ * sizeof(float); }

 private:
  static constexpr std::align_val_t kAlignment{64};
  struct Free {
    void operator()(float* p) const { ::operator delete[](p, kAlignment); }
  };
  std::unique_ptr<float[], Free> data_;
  std::size_t size_ = 0;
};

}  // namespace convkit::cpu
