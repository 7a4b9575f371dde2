// The only Swift file that imports CDeflate (libdeflate): the fast path of
// `Zlib.decompress(_:into:checkAdler32: false)`, which MixShard chunks take, and CRC-32.
import CDeflate

/// libdeflate's whole-buffer raw-deflate decoder: about twice zlib's inflate speed on
/// MixShard chunks (see docs/results/benchmarks.md). It reads the same RFC 1951 data;
/// shards stay ordinary zlib streams.
enum Libdeflate {
    /// Inflates raw deflate `input` into exactly `output.count` bytes, consuming all of
    /// `input`. Returns false on any failure (damaged, truncated, too long or too short,
    /// trailing bytes), leaving the diagnosis to zlib.
    static func inflateRaw(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Bool {
        guard let d = libdeflate_alloc_decompressor() else { return false }
        defer { libdeflate_free_decompressor(d) }
        var consumed = 0, produced = 0
        let status = libdeflate_deflate_decompress_ex(d, input.baseAddress, input.count, output.baseAddress, output.count,
                                                      &consumed, &produced)
        return status == LIBDEFLATE_SUCCESS && consumed == input.count && produced == output.count
    }

    /// CRC-32 (the zlib / RFC 1952 one) of `bytes`, continuing from `seed`.
    static func crc32(_ bytes: UnsafeRawBufferPointer, seed: UInt32) -> UInt32 {
        libdeflate_crc32(seed, bytes.baseAddress, bytes.count)
    }
}
