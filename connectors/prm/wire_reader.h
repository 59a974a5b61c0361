#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace crmsync::connectors::prm {

// Reads PostgreSQL wire-format values (big-endian integers, NUL-terminated strings, counted byte
// strings) from a buffer, never past its end: a short buffer throws WireFormatError with the
// offset. Internal to the replication decoders.
class WireFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}

  std::uint8_t u8() { return static_cast<std::uint8_t>(take(1)[0]); }
  std::int16_t i16() { return static_cast<std::int16_t>(big_endian(2)); }
  std::int32_t i32() { return static_cast<std::int32_t>(big_endian(4)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(big_endian(4)); }
  std::int64_t i64() { return static_cast<std::int64_t>(big_endian(8)); }
  std::uint64_t u64() { return big_endian(8); }

  std::string c_string() {
    std::size_t end = data_.find('\0', offset_);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string value(data_.substr(offset_, end - offset_));
    offset_ = end + 1;
    return value;
  }

  std::string_view bytes(std::size_t count) { return take(count); }
  std::string_view rest() { return take(data_.size() - offset_); }

  std::size_t offset() const { return offset_; }
  std::size_t remaining() const { return data_.size() - offset_; }
  [[noreturn]] void fail(const std::string& what) const {
    throw WireFormatError(what + " at byte " + std::to_string(offset_));
  }

 private:
  std::string_view take(std::size_t count) {
    if (count > data_.size() - offset_) {
      fail("truncated message: need " + std::to_string(count) + " more byte(s), have " +
           std::to_string(data_.size() - offset_));
    }
    std::string_view out = data_.substr(offset_, count);
    offset_ += count;
    return out;
  }
  std::uint64_t big_endian(std::size_t width) {
    std::string_view raw = take(width);
    std::uint64_t value = 0;
    for (char byte : raw) value = (value << 8) | static_cast<std::uint8_t>(byte);
    return value;
  }

  std::string_view data_;
  std::size_t offset_ = 0;
};

}  // namespace crmsync::connectors::prm
