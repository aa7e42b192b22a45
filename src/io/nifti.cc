// NIfTI-1 and NIfTI-2 single-file reader and writer. Format references: nifti1.h and nifti2.h
// (https://nifti.nimh.nih.gov/pub/dist/src/niftilib/). The two headers hold the same fields at different
// offsets and widths (NIfTI-2 widens dims and vox_offset to int64 and the scalings to double); the
// byte offsets used here are in kNifti1/kNifti2 below. Bytes [header size, +4) are the extension flag;
// the data starts at vox_offset (>= header size + 4), x fastest.
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

// Where one header version keeps the fields convkit reads or rewrites (struct nifti_1_header /
// nifti_2_header); "real" fields are float32 in NIfTI-1 and float64 in NIfTI-2.
struct Version {
  int number;
  int64_t header_size;     // sizeof_hdr, at byte 0 in both
  const char* magic;       // single file; the first 4 of magic's bytes are compared, as nibabel does
  const char* pair_magic;  // .hdr/.img pair (refused)
  int magic_at;
  int dim_at, dim_bytes;   // dim[8]: int16 or int64
  int datatype_at, bitpix_at;
  int vox_offset_at;       // float32 (NIfTI-1) or int64 (NIfTI-2)
  int scl_slope_at, scl_inter_at, cal_max_at, cal_min_at, real_bytes;
  int64_t min_vox_offset() const { return header_size + 4; }  // the header and the extension flag
};
constexpr Version kNifti1{1, 348, "n+1", "ni1", 344, 40, 2, 70, 72, 108, 112, 116, 124, 128, 4};
constexpr Version kNifti2{2, 540, "n+2", "ni2", 4, 16, 8, 12, 14, 168, 176, 184, 192, 200, 8};
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

// A signed integer field of `size` bytes (dims: int16 in NIfTI-1, int64 in NIfTI-2).
int64_t load_int(std::span<const uint8_t> b, int at, int size, bool big) {
  const uint64_t bits = load_bits(b.data() + at, size, big);
  return size == 8 ? static_cast<int64_t>(bits) : static_cast<int64_t>(static_cast<int16_t>(bits));
}
// A "real" header field: float32 in NIfTI-1, float64 in NIfTI-2.
double load_real(std::span<const uint8_t> b, int at, const Version& v, bool big) {
  const uint64_t bits = load_bits(b.data() + at, v.real_bytes, big);
  return v.real_bytes == 8 ? std::bit_cast<double>(bits) : std::bit_cast<float>(static_cast<uint32_t>(bits));
}
void store_real(uint8_t* header, int at, double value, const Version& v, bool big) {
  const uint64_t bits = v.real_bytes == 8 ? std::bit_cast<uint64_t>(value)
                                          : std::bit_cast<uint32_t>(static_cast<float>(value));
  store_bits(header + at, bits, v.real_bytes, big);
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

// The header version and byte order from sizeof_hdr, the first 4 bytes of `head`.
const Version& detect_version(std::span<const uint8_t> head, std::string_view name, bool& big_endian) {
  if (head.size() < 4)
    fail("truncated NIfTI '", name, "': ", head.size(), " bytes; a NIfTI header starts with its 4-byte sizeof_hdr");
  const auto little = static_cast<int32_t>(load_bits(head.data(), 4, false));
  const auto swapped = static_cast<int32_t>(load_bits(head.data(), 4, true));
  for (const Version* version : {&kNifti1, &kNifti2})
    if (little == version->header_size || swapped == version->header_size) {
      big_endian = little != version->header_size;
      return *version;
    }
  fail("NIfTI '", name, "': sizeof_hdr is ", little,
       "; expected 348 (a NIfTI-1 header) or 540 (a NIfTI-2 header), in either byte order");
}

// Reads and checks the header fields in `head` (the file's first bytes, at least the header). The caller
// checks that the data the header implies (end()) is what the file holds, before anything is allocated.
Layout read_layout(std::span<const uint8_t> head, std::string_view name) {
  Layout layout;
  Header& header = layout.header;
  bool big = false;
  const Version& v = detect_version(head, name, big);
  header.big_endian = big;
  header.version = v.number;
  if (head.size() < static_cast<size_t>(v.header_size))
    fail("truncated NIfTI '", name, "': ", head.size(), " bytes; a NIfTI-", v.number, " header is ", v.header_size);
  if (std::memcmp(head.data() + v.magic_at, v.pair_magic, 4) == 0)
    fail("NIfTI '", name, "': magic is \"", v.pair_magic, "\", a .hdr/.img pair; expected a single-file .nii (magic \"",
         v.magic, "\")");
  if (std::memcmp(head.data() + v.magic_at, v.magic, 4) != 0)
    fail("NIfTI '", name, "': magic is not \"", v.magic, "\\0\"; expected a single-file NIfTI-", v.number, " .nii");

  const int64_t rank = load_int(head, v.dim_at, v.dim_bytes, big);
  if (rank < 1 || rank > 7) fail("NIfTI '", name, "': dim[0] is ", rank, "; expected a rank of 1 to 7");
  for (int i = 1; i <= rank; ++i) {
    const int64_t dim = load_int(head, v.dim_at + v.dim_bytes * i, v.dim_bytes, big);
    if (dim < 1) fail("NIfTI '", name, "': dim[", i, "] is ", dim, "; expected >= 1");
    header.dims.push_back(dim);
  }
  header.datatype = static_cast<int16_t>(load_bits(head.data() + v.datatype_at, 2, big));
  for (const Datatype& type : kDatatypes)
    if (type.code == header.datatype) layout.type = &type;
  if (layout.type == nullptr)
    fail("NIfTI '", name, "': datatype ", header.datatype,
         " is not supported; expected 2 (uint8), 4 (int16), 8 (int32), 16 (float32), 64 (float64), 256 (int8), "
         "512 (uint16), 768 (uint32), 1024 (int64) or 1280 (uint64)");
  const auto bitpix = static_cast<int16_t>(load_bits(head.data() + v.bitpix_at, 2, big));
  if (bitpix != 8 * layout.type->bytes)
    fail("NIfTI '", name, "': bitpix is ", bitpix, " but datatype ", header.datatype, " (", layout.type->name,
         ") has ", 8 * layout.type->bytes);

  // NIfTI-1 stores vox_offset as a float32, NIfTI-2 as an int64.
  const double vox_offset = v.number == 1 ? load_real(head, v.vox_offset_at, v, big)
                                          : static_cast<double>(load_int(head, v.vox_offset_at, 8, big));
  if (!(vox_offset >= static_cast<double>(v.min_vox_offset()) && vox_offset < 0x1p62) ||
      vox_offset != std::floor(vox_offset))
    fail("NIfTI '", name, "': vox_offset is ", vox_offset, "; expected a whole number of bytes >= ", v.min_vox_offset());
  layout.vox_offset = static_cast<int64_t>(vox_offset);

  int64_t count = layout.type->bytes;
  for (const int64_t dim : header.dims)
    if (__builtin_mul_overflow(count, dim, &count) || count > std::numeric_limits<int64_t>::max() / 2)
      fail("NIfTI '", name, "': dims ", dims_text(header.dims), " of ", layout.type->name,
           " overflow 64-bit byte counts");
  layout.data_bytes = count;

  header.scl_slope = load_real(head, v.scl_slope_at, v, big);
  header.scl_inter = load_real(head, v.scl_inter_at, v, big);
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
  std::vector<uint8_t> bytes(4);  // sizeof_hdr says which header follows
  size_t got = inflater.fill(bytes);
  if (got < bytes.size())
    fail("truncated NIfTI '", name, "': the gzip stream inflates to ", got,
         " bytes; a NIfTI header starts with its 4-byte sizeof_hdr");
  bool big = false;
  const Version& version = detect_version(bytes, name, big);
  const int64_t header_size = version.header_size;
  bytes.resize(static_cast<size_t>(header_size));
  got += inflater.fill(std::span<uint8_t>(bytes).subspan(4));
  if (got < bytes.size())
    fail("truncated NIfTI '", name, "': the gzip stream inflates to ", got, " bytes; a NIfTI-", version.number,
         " header is ", header_size);
  const Layout layout = read_layout(bytes, name);
  const uint64_t capacity = std::min<uint64_t>(gz.size(), std::numeric_limits<int64_t>::max() / kMaxInflateRatio) *
                            kMaxInflateRatio;
  if (static_cast<uint64_t>(layout.end()) > capacity)
    fail("truncated NIfTI '", name, "': the header says ", layout.describe(), " but a gzip stream of ", gz.size(),
         " bytes inflates to at most ", capacity);
  bytes.resize(static_cast<size_t>(layout.end()));
  const size_t rest = inflater.fill(std::span<uint8_t>(bytes).subspan(static_cast<size_t>(header_size)));
  if (header_size + static_cast<int64_t>(rest) < layout.end())
    fail("truncated NIfTI '", name, "': the header says ", layout.describe(), " but the gzip stream inflates to ",
         header_size + static_cast<int64_t>(rest), " bytes");
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
  bool big = false;
  const Version& v = detect_version(like.bytes, "the header to write", big);
  if (like.bytes.size() < static_cast<size_t>(v.min_vox_offset()))
    fail("NIfTI-", v.number, " header of ", like.bytes.size(), " bytes; expected the >= ", v.min_vox_offset(),
         " bytes a read volume keeps");
  if (data.shape() != channels_shape(like.dims))
    fail("NIfTI output of shape ", data.shape(), " (C, spatial...) does not match the input's ",
         channels_shape(like.dims), "; the header's affine describes the input's voxel grid");
  std::vector<uint8_t> bytes = like.bytes;
  store_bits(bytes.data() + v.datatype_at, kFloat32, 2, big);
  store_bits(bytes.data() + v.bitpix_at, 32, 2, big);
  store_real(bytes.data(), v.scl_slope_at, 1.0, v, big);
  store_real(bytes.data(), v.scl_inter_at, 0.0, v, big);
  // The input's display range (cal_min, cal_max) does not describe filtered values; (0, 0) means "unset"
  // (nifti1.h), so viewers scale to the data.
  store_real(bytes.data(), v.cal_max_at, 0.0, v, big);
  store_real(bytes.data(), v.cal_min_at, 0.0, v, big);
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
