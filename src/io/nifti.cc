// NIfTI-1 reader and writer. Format reference: nifti1.h (https://nifti.nimh.nih.gov/pub/dist/src/niftilib/nifti1.h).
//
// The 348-byte header, byte offsets of the fields used here (nifti1.h's struct nifti_1_header):
//   0 int sizeof_hdr (348; read swapped it gives the byte order)   40 short dim[8]
//  70 short datatype   72 short bitpix   108 float vox_offset   112 float scl_slope   116 float scl_inter
// 344 char magic[4] ("n+1\0": header and data in one file). Bytes 348-351 are the extension flag;
// the data starts at vox_offset (>= 352), x fastest.
#include "convkit/nifti.h"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

#include "convkit/error.h"
#include "convkit/files.h"
#include "files.h"
#include "float_narrowing.h"

namespace convkit::nifti {
namespace {

constexpr int64_t kHeaderSize = 348;
constexpr int64_t kMinVoxOffset = 352;  // header + the 4-byte extension flag
constexpr int kSizeofHdr = 0, kDim = 40, kDatatype = 70, kBitpix = 72, kVoxOffset = 108, kSclSlope = 112,
              kSclInter = 116, kMagic = 344;
constexpr int kFloat32 = 16;
// deflate emits at least one bit per 258 bytes of output, so a gzip stream of n bytes inflates to at
// most about 1032 n bytes (zlib's FAQ); a header claiming more than that cannot be honest.
constexpr int64_t kMaxInflateRatio = 1032;

struct Datatype {
  int code;
  const char* name;
  int bytes;
};
constexpr Datatype kDatatypes[] = {{2, "uint8", 1},    {4, "int16", 2},   {8, "int32", 4},    {16, "float32", 4},
                                   {64, "float64", 8}, {256, "int8", 1},  {512, "uint16", 2}, {768, "uint32", 4},
                                   {1024, "int64", 8}, {1280, "uint64", 8}};

// The `size`-byte unsigned integer at `p` in the given byte order.
uint64_t load_bits(const uint8_t* p, int size, bool big_endian) {
  uint64_t bits = 0;
  for (int i = 0; i < size; ++i) bits |= uint64_t{p[i]} << (8 * (big_endian ? size - 1 - i : i));
  return bits;
}

void store_bits(uint8_t* p, uint64_t bits, int size, bool big_endian) {
  for (int i = 0; i < size; ++i) p[big_endian ? size - 1 - i : i] = static_cast<uint8_t>(bits >> (8 * i));
}

int16_t load_i16(std::span<const uint8_t> b, int at, bool big) {
  return static_cast<int16_t>(load_bits(b.data() + at, 2, big));
}
float load_f32(std::span<const uint8_t> b, int at, bool big) {
  return std::bit_cast<float>(static_cast<uint32_t>(load_bits(b.data() + at, 4, big)));
}

// One stored value as a double (exact for every datatype but 64-bit integers beyond 2^53).
double load_value(const uint8_t* p, int code, bool big) {
  switch (code) {
    case 2: return p[0];
    case 256: return static_cast<int8_t>(p[0]);
    case 4: return static_cast<int16_t>(load_bits(p, 2, big));
    case 512: return static_cast<uint16_t>(load_bits(p, 2, big));
    case 8: return static_cast<int32_t>(load_bits(p, 4, big));
    case 768: return static_cast<uint32_t>(load_bits(p, 4, big));
    case 1024: return static_cast<double>(static_cast<int64_t>(load_bits(p, 8, big)));
    case 1280: return static_cast<double>(load_bits(p, 8, big));
    case 16: return std::bit_cast<float>(static_cast<uint32_t>(load_bits(p, 4, big)));
    default: return std::bit_cast<double>(load_bits(p, 8, big));  // 64, float64
  }
}

std::string dims_text(const std::vector<int64_t>& dims) {  // "256x256x180"
  std::ostringstream text;
  for (size_t i = 0; i < dims.size(); ++i) text << (i ? "x" : "") << dims[i];
  return text.str();
}

// The header's fields, checked, and where its data lies.
struct Layout {
  Header header;
  const Datatype* type = nullptr;
  int64_t vox_offset = 0, data_bytes = 0;
  int64_t end() const { return vox_offset + data_bytes; }
  std::string describe() const {  // "256x256x180 float32 (47185920 bytes from byte 352)"
    std::ostringstream text;
    text << dims_text(header.dims) << " " << type->name << " (" << data_bytes << " bytes from byte " << vox_offset
         << ")";
    return text.str();
  }
};

// Reads and checks the header fields in `head` (at least kHeaderSize bytes). The caller checks that the
// data the header implies (end()) is what the file holds, before anything is allocated.
Layout read_layout(std::span<const uint8_t> head, std::string_view name) {
  Layout layout;
  Header& header = layout.header;
  const auto sizeof_hdr = static_cast<int32_t>(load_bits(head.data() + kSizeofHdr, 4, false));
  const auto swapped = static_cast<int32_t>(load_bits(head.data() + kSizeofHdr, 4, true));
  if (sizeof_hdr == 540 || swapped == 540)
    fail("NIfTI '", name, "': sizeof_hdr is 540, a NIfTI-2 header; only NIfTI-1 (348) is supported");
  if (sizeof_hdr != kHeaderSize && swapped != kHeaderSize)
    fail("NIfTI '", name, "': sizeof_hdr is ", sizeof_hdr, "; expected 348 (a NIfTI-1 header, either byte order)");
  const bool big = header.big_endian = sizeof_hdr != kHeaderSize;
  if (std::memcmp(head.data() + kMagic, "ni1\0", 4) == 0)
    fail("NIfTI '", name, "': magic is \"ni1\", a .hdr/.img pair; expected a single-file .nii (magic \"n+1\")");
  if (std::memcmp(head.data() + kMagic, "n+1\0", 4) != 0)
    fail("NIfTI '", name, "': magic is not \"n+1\\0\"; expected a single-file NIfTI-1 .nii");

  const int rank = load_i16(head, kDim, big);
  if (rank < 1 || rank > 7) fail("NIfTI '", name, "': dim[0] is ", rank, "; expected a rank of 1 to 7");
  for (int i = 1; i <= rank; ++i) {
    const int dim = load_i16(head, kDim + 2 * i, big);
    if (dim < 1) fail("NIfTI '", name, "': dim[", i, "] is ", dim, "; expected >= 1");
    header.dims.push_back(dim);
  }
  header.datatype = load_i16(head, kDatatype, big);
  for (const Datatype& type : kDatatypes)
    if (type.code == header.datatype) layout.type = &type;
  if (layout.type == nullptr)
    fail("NIfTI '", name, "': datatype ", header.datatype,
         " is not supported; expected 2 (uint8), 4 (int16), 8 (int32), 16 (float32), 64 (float64), 256 (int8), "
         "512 (uint16), 768 (uint32), 1024 (int64) or 1280 (uint64)");
  const int bitpix = load_i16(head, kBitpix, big);
  if (bitpix != 8 * layout.type->bytes)
    fail("NIfTI '", name, "': bitpix is ", bitpix, " but datatype ", header.datatype, " (", layout.type->name,
         ") has ", 8 * layout.type->bytes);

  const float vox_offset = load_f32(head, kVoxOffset, big);
  if (!(vox_offset >= kMinVoxOffset && vox_offset < 0x1p62f) || vox_offset != std::floor(vox_offset))
    fail("NIfTI '", name, "': vox_offset is ", vox_offset, "; expected a whole number of bytes >= 352");
  layout.vox_offset = static_cast<int64_t>(vox_offset);

  int64_t count = layout.type->bytes;
  for (const int64_t dim : header.dims)
    if (__builtin_mul_overflow(count, dim, &count) || count > std::numeric_limits<int64_t>::max() / 2)
      fail("NIfTI '", name, "': dims ", dims_text(header.dims), " of ", layout.type->name,
           " overflow 64-bit byte counts");
  layout.data_bytes = count;

  header.scl_slope = load_f32(head, kSclSlope, big);
  header.scl_inter = load_f32(head, kSclInter, big);
  return layout;
}

Tensor decode(const Layout& layout, std::span<const uint8_t> bytes) {
  const Header& header = layout.header;
  // nifti1.h: scaling applies when scl_slope != 0; nibabel also skips non-finite slopes, (1, 0) is a
  // no-op, and a non-finite intercept counts as 0.
  const double slope = header.scl_slope, inter = std::isfinite(header.scl_inter) ? header.scl_inter : 0.0;
  const bool scaled = std::isfinite(slope) && slope != 0.0 && !(slope == 1.0 && inter == 0.0);
  Tensor data(channels_shape(header.dims));
  const uint8_t* source = bytes.data() + layout.vox_offset;
  float* target = data.data();
  const int size = layout.type->bytes;
  for (int64_t i = 0; i < data.numel(); ++i) {
    const double value = load_value(source + i * size, header.datatype, header.big_endian);
    target[i] = io::narrow_to_float(scaled ? value * slope + inter : value);
  }
  return data;
}

// ---- gzip -------------------------------------------------------------------------------------------

// A gzip stream inflated piecewise, so that the header can bound how much of it is inflated.
class Inflater {
 public:
  Inflater(std::span<const uint8_t> input, std::string_view name) : input_(input), name_(name) {
    if (inflateInit2(&stream_, 15 + 16) != Z_OK) fail("NIfTI '", name, "': zlib could not start inflating");
  }
  ~Inflater() { inflateEnd(&stream_); }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  // Inflates into `out` until it is full or the stream ends; returns the bytes written.
  size_t fill(std::span<uint8_t> out) {
    size_t done = 0;
    while (done < out.size() && !ended_) {
      if (stream_.avail_in == 0 && consumed_ < input_.size()) {  // zlib takes at most 4 GiB at a time
        const size_t take = std::min<size_t>(input_.size() - consumed_, 1u << 30);
        stream_.next_in = const_cast<Bytef*>(input_.data() + consumed_);  // zlib's API is not const-correct
        stream_.avail_in = static_cast<uInt>(take);
        consumed_ += take;
      }
      stream_.next_out = out.data() + done;
      stream_.avail_out = static_cast<uInt>(std::min<size_t>(out.size() - done, 1u << 30));
      const uInt room = stream_.avail_out;
      const int status = inflate(&stream_, Z_NO_FLUSH);
      done += room - stream_.avail_out;
      if (status == Z_STREAM_END) ended_ = true;
      else if (status == Z_BUF_ERROR)  // no progress possible: the input ran out mid-stream
        fail("truncated NIfTI '", name_, "': the gzip stream ends early, after ", stream_.total_out, " bytes");
      else if (status != Z_OK)
        fail("NIfTI '", name_, "': corrupt gzip stream (", stream_.msg ? stream_.msg : "zlib error", ")");
    }
    return done;
  }
  bool ended() const { return ended_; }
  // Compressed bytes after the end of the (first) gzip member.
  bool input_left() const { return stream_.avail_in != 0 || consumed_ < input_.size(); }

 private:
  z_stream stream_{};
  std::span<const uint8_t> input_;
  std::string_view name_;
  size_t consumed_ = 0;
  bool ended_ = false;
};

// Inflates a .nii.gz: the header first, then exactly the bytes it implies (bounded by what the
// compressed size can inflate to), refusing streams that are shorter or longer.
std::vector<uint8_t> inflate_bounded(std::span<const uint8_t> gz, std::string_view name) {
  Inflater inflater(gz, name);
  std::vector<uint8_t> bytes(kHeaderSize);
  const size_t got = inflater.fill(bytes);
  if (got < bytes.size())
    fail("truncated NIfTI '", name, "': the gzip stream inflates to ", got, " bytes; a NIfTI-1 header is 348");
  const Layout layout = read_layout(bytes, name);
  const uint64_t capacity = std::min<uint64_t>(gz.size(), std::numeric_limits<int64_t>::max() / kMaxInflateRatio) *
                            kMaxInflateRatio;
  if (static_cast<uint64_t>(layout.end()) > capacity)
    fail("truncated NIfTI '", name, "': the header says ", layout.describe(), " but a gzip stream of ", gz.size(),
         " bytes inflates to at most ", capacity);
  bytes.resize(static_cast<size_t>(layout.end()));
  const size_t rest = inflater.fill(std::span<uint8_t>(bytes).subspan(kHeaderSize));
  if (kHeaderSize + static_cast<int64_t>(rest) < layout.end())
    fail("truncated NIfTI '", name, "': the header says ", layout.describe(), " but the gzip stream inflates to ",
         kHeaderSize + static_cast<int64_t>(rest), " bytes");
  uint8_t extra = 0;
  if (inflater.fill(std::span<uint8_t>(&extra, 1)) != 0 || !inflater.ended() || inflater.input_left())
    fail("NIfTI '", name, "': the gzip stream holds more than the ", layout.end(), " bytes the header implies (",
         layout.describe(), ")");
  return bytes;
}

std::vector<uint8_t> gzip(std::span<const uint8_t> bytes, const std::string& path) {
  z_stream stream{};
  if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    fail("--output '", path, "': zlib could not start compressing");
  std::vector<uint8_t> out;
  std::vector<uint8_t> chunk(1 << 20);
  size_t offset = 0;
  int status = Z_OK;
  while (status != Z_STREAM_END) {
    const size_t take = std::min<size_t>(bytes.size() - offset, 1u << 30);
    stream.next_in = const_cast<Bytef*>(bytes.data() + offset);
    stream.avail_in = static_cast<uInt>(take);
    const bool last = offset + take == bytes.size();
    do {
      stream.next_out = chunk.data();
      stream.avail_out = static_cast<uInt>(chunk.size());
      status = deflate(&stream, last ? Z_FINISH : Z_NO_FLUSH);
      out.insert(out.end(), chunk.data(), chunk.data() + (chunk.size() - stream.avail_out));
    } while (stream.avail_out == 0 || (last && status != Z_STREAM_END));
    offset += take;
  }
  deflateEnd(&stream);
  return out;
}

bool ends_with_gz(const std::string& path) {
  return path.size() >= 3 && (path.ends_with(".gz") || path.ends_with(".GZ"));
}

}  // namespace

Shape channels_shape(std::span<const int64_t> dims) {
  // x fastest: C order is the dims reversed; the first three are the spatial axes, the rest channels.
  const size_t spatial = std::min<size_t>(dims.size(), 3);
  int64_t channels = 1;
  for (size_t i = spatial; i < dims.size(); ++i) channels *= dims[i];
  Shape shape{channels};
  for (size_t i = spatial; i-- > 0;) shape.push_back(dims[i]);
  return shape;
}

namespace {

Volume parse_uncompressed(std::span<const uint8_t> bytes, std::string_view name) {
  if (bytes.size() < static_cast<size_t>(kHeaderSize))
    fail("truncated NIfTI '", name, "': ", bytes.size(), " bytes; a NIfTI-1 header is 348");
  const int64_t size = static_cast<int64_t>(bytes.size());
  Layout layout = read_layout(bytes, name);
  if (layout.end() > size)
    fail("truncated NIfTI '", name, "': the header says ", layout.describe(), " but the file has ", size);
  if (layout.end() < size)
    fail("NIfTI '", name, "': the file has ", size, " bytes, more than the ", layout.end(), " the header implies (",
         layout.describe(), ")");
  Volume volume;
  volume.data = decode(layout, bytes);
  volume.header = std::move(layout.header);
  volume.header.bytes.assign(bytes.begin(), bytes.begin() + layout.vox_offset);
  return volume;
}

}  // namespace

Volume parse(std::span<const uint8_t> bytes, std::string_view name) {
  if (bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b)
    return parse_uncompressed(inflate_bounded(bytes, name), name);
  return parse_uncompressed(bytes, name);
}

Volume read(const std::string& path) { return parse(io::read_file(path), path); }

std::vector<uint8_t> serialize(const Tensor& data, const Header& like) {
  if (like.bytes.size() < static_cast<size_t>(kMinVoxOffset))
    fail("NIfTI header of ", like.bytes.size(), " bytes; expected the >= 352 bytes a read volume keeps");
  if (data.shape() != channels_shape(like.dims))
    fail("NIfTI output of shape ", data.shape(), " (C, spatial...) does not match the input's ",
         channels_shape(like.dims), "; the header's affine describes the input's voxel grid");
  std::vector<uint8_t> bytes = like.bytes;
  const bool big = like.big_endian;
  store_bits(bytes.data() + kDatatype, kFloat32, 2, big);
  store_bits(bytes.data() + kBitpix, 32, 2, big);
  store_bits(bytes.data() + kSclSlope, std::bit_cast<uint32_t>(1.0f), 4, big);
  store_bits(bytes.data() + kSclInter, std::bit_cast<uint32_t>(0.0f), 4, big);
  const size_t start = bytes.size();
  bytes.resize(start + static_cast<size_t>(data.numel()) * 4);
  for (int64_t i = 0; i < data.numel(); ++i)
    store_bits(bytes.data() + start + static_cast<size_t>(i) * 4, std::bit_cast<uint32_t>(data.data()[i]), 4, big);
  return bytes;
}

std::vector<uint8_t> encode(const Tensor& data, const Header& like, const std::string& path) {
  std::vector<uint8_t> bytes = serialize(data, like);
  return ends_with_gz(path) ? gzip(bytes, path) : bytes;
}

void write(const std::string& path, const Tensor& data, const Header& like) {
  files::write_atomically(path, encode(data, like, path));
}

}  // namespace convkit::nifti
