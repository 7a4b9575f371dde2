import CZlib
import MixCore

/// deflate's match-finding strategy (zlib's `strategy` argument). Every choice
/// produces a standard zlib stream; only speed and size differ.
public enum DeflateStrategy: String, Sendable, CaseIterable {
    /// `Z_DEFAULT_STRATEGY`: hash-chain LZ77 matches + Huffman.
    case standard = "default"
    /// `Z_FILTERED`: favours Huffman over short matches.
    case filtered
    /// `Z_HUFFMAN_ONLY`: no matches at all.
    case huffman
    /// `Z_RLE`: matches of distance 1 only (runs). On delta-filtered images it is
    /// both faster and smaller than the default at level 1 (see README, "Shard size and speed").
    case rle

    var zlibValue: Int32 {
        switch self {
        case .standard: Z_DEFAULT_STRATEGY
        case .filtered: Z_FILTERED
        case .huffman: Z_HUFFMAN_ONLY
        case .rle: Z_RLE
        }
    }
}

/// The project's only door to zlib: CRC-32, one-shot deflate/inflate of
/// RFC 1950 streams, and gunzip for `.tar.gz` sources.
public enum Zlib {
    /// CRC-32 (zlib's `crc32`), optionally continuing from `seed`.
    @inlinable
    public static func crc32(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        _crc32(bytes, seed: seed)
    }

    /// Computed by libdeflate (`Libdeflate.crc32`: the same CRC-32, carry-less multiply on
    /// x86-64), 2–3× zlib's `crc32` on shard chunks; a compressed source copy checks one
    /// per image it inflates.
    @usableFromInline
    static func _crc32(_ bytes: UnsafeRawBufferPointer, seed: UInt32) -> UInt32 {
        guard bytes.count > 0 else { return seed }
        return Libdeflate.crc32(bytes, seed: seed)
    }

    /// zlib's own `crc32`, the reference `crc32` is checked against in tests.
    public static func zlibCRC32(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return seed }
        var crc = UInt(seed)
        var p = base.assumingMemoryBound(to: UInt8.self)
        var left = bytes.count
        while left > 0 {
            let n = min(left, Int(UInt32.max >> 1))
            crc = CZlib.crc32(crc, p, UInt32(n))
            p += n
            left -= n
        }
        return UInt32(truncatingIfNeeded: crc)
    }

    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { crc32($0) }
    }

    /// Compresses `input` as one zlib stream (RFC 1950) at `level` 1...9.
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int, strategy: DeflateStrategy = .standard) -> [UInt8] {
        Deflater(level: level, strategy: strategy).compress(input)
    }

    /// One deflate state used for many streams, reset between them: each `compress`
    /// gives the bytes `Zlib.compress` gives, without zlib allocating and freeing its
    /// ~270 KB of state per stream (a source copy of one image per chunk is 50,000
    /// streams for CIFAR-10). Not for concurrent use.
    public final class Deflater {
        private var stream = z_stream()

        public init(level: Int, strategy: DeflateStrategy = .standard) {
            precondition((1...9).contains(level), "zlib level must be 1...9")
            let rc = mxs_deflateInit2(&stream, Int32(level), 15, 8, strategy.zlibValue)
            precondition(rc == Z_OK, "deflateInit2 failed: \(rc)")
        }

        deinit { deflateEnd(&stream) }

        /// `input` as one zlib stream.
        public func compress(_ input: UnsafeRawBufferPointer) -> [UInt8] {
            precondition(deflateReset(&stream) == Z_OK, "deflateReset failed")
            let bound = Int(deflateBound(&stream, UInt(input.count)))
            var out = [UInt8](repeating: 0, count: bound)
            let produced: Int = out.withUnsafeMutableBytes { outBuf in
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
                stream.avail_in = UInt32(input.count)
                stream.next_out = outBuf.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.avail_out = UInt32(bound)
                let status = deflate(&stream, Z_FINISH)
                precondition(status == Z_STREAM_END, "deflate did not finish within deflateBound: \(status)")
                return Int(stream.total_out)
            }
            out.removeLast(bound - produced)
            return out
        }
    }

    /// Inflates one zlib stream into exactly `output.count` bytes.
    /// Throws a description (the caller adds file and chunk) when the stream is
    /// damaged, shorter or longer than expected.
    ///
    /// With `checkAdler32: false` the 2-byte header is checked by hand, the
    /// deflate data is inflated raw and the Adler-32 trailer is skipped: for
    /// callers that verify the output with their own, stronger checksum
    /// (MixShard chunks carry a CRC-32 of the payload), saving zlib's pass. That path
    /// inflates with libdeflate (`Libdeflate`), and falls back to zlib only to name
    /// what is wrong with a stream libdeflate refused.
    public static func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
                                  checkAdler32: Bool = true) throws {
        var body = input
        if !checkAdler32 {
            guard input.count >= 6 else { throw MixError("zlib stream is truncated") }
            let cmf = input[0], flg = input[1]
            guard cmf & 0x0F == 8, cmf >> 4 <= 7, (Int(cmf) << 8 | Int(flg)) % 31 == 0, flg & 0x20 == 0 else {
                throw MixError("zlib stream is damaged: bad header")
            }
            body = UnsafeRawBufferPointer(rebasing: input[2..<(input.count - 4)])
            if Libdeflate.inflateRaw(body, into: output) { return }
        }
        var stream = z_stream()
        guard mxs_inflateInit2(&stream, checkAdler32 ? 15 : -15) == Z_OK else { throw MixError("inflateInit failed") }
        defer { inflateEnd(&stream) }
        stream.next_in = UnsafeMutablePointer(mutating: body.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = UInt32(body.count)
        stream.next_out = output.baseAddress?.assumingMemoryBound(to: Bytef.self)
        stream.avail_out = UInt32(output.count)
        let status = inflate(&stream, Z_FINISH)
        switch status {
        case Z_STREAM_END:
            guard Int(stream.total_out) == output.count else {
                throw MixError("inflated \(stream.total_out) bytes, expected \(output.count)")
            }
            guard stream.avail_in == 0 else { throw MixError("\(stream.avail_in) trailing bytes after the zlib stream") }
        case Z_BUF_ERROR where stream.avail_in == 0:
            throw MixError("zlib stream is truncated")
        case Z_BUF_ERROR:
            throw MixError("inflates to more than the expected \(output.count) bytes")
        default:
            let msg = stream.msg.map { String(cString: $0) } ?? "error \(status)"
            throw MixError("zlib stream is damaged: \(msg)")
        }
    }

    /// Inflates a whole gzip file (all members) in memory, refusing (before
    /// allocating for it) output beyond `limit` bytes: a gzip bomb costs at most
    /// about `1.5 × limit` of memory, however far it would inflate.
    public static func gunzip(_ input: [UInt8], name: String, limit: Int = .max) throws -> [UInt8] {
        guard !input.isEmpty else { throw MixError.file(name, "is empty (0 bytes), not a gzip file") }
        var out = [UInt8]()
        // The trailer's ISIZE (inflated size mod 2^32 of the last member) sizes the buffer once, so a
        // bomb stopped at `limit` holds one buffer of `limit` bytes, not a doubled array.
        let n = input.count
        let isize = n >= 18 ? Int(input[n - 4]) | Int(input[n - 3]) << 8 | Int(input[n - 2]) << 16 | Int(input[n - 1]) << 24 : 0
        out.reserveCapacity(min(limit, max(isize, n * 2)))
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        try input.withUnsafeBytes { inBuf in
            var offset = 0
            while offset < inBuf.count {
                var stream = z_stream()
                // 15 + 16: gzip wrapper only.
                guard mxs_inflateInit2(&stream, 15 + 16) == Z_OK else { throw MixError.file(name, "inflateInit failed") }
                defer { inflateEnd(&stream) }
                stream.next_in = UnsafeMutablePointer(mutating: (inBuf.baseAddress! + offset).assumingMemoryBound(to: Bytef.self))
                stream.avail_in = UInt32(inBuf.count - offset)
                var status: Int32 = Z_OK
                repeat {
                    status = chunk.withUnsafeMutableBytes { c -> Int32 in
                        stream.next_out = c.baseAddress!.assumingMemoryBound(to: Bytef.self)
                        stream.avail_out = UInt32(c.count)
                        return inflate(&stream, Z_NO_FLUSH)
                    }
                    let produced = chunk.count - Int(stream.avail_out)
                    guard produced <= limit - out.count else {
                        let shown = limit >= 1 << 20 ? "\(limit >> 20) MiB" : "\(limit) bytes"
                        throw MixError.file(name, "inflates to more than \(shown), the limit for this input (a gzip bomb?)")
                    }
                    out.append(contentsOf: chunk[0..<produced])
                    if status == Z_BUF_ERROR && stream.avail_in == 0 {
                        throw MixError.file(name, "gzip stream is truncated")
                    }
                    if status != Z_OK && status != Z_STREAM_END && status != Z_BUF_ERROR {
                        let msg = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                        throw MixError.file(name, "not a valid gzip file: \(msg)")
                    }
                } while status != Z_STREAM_END
                offset += Int(stream.total_in)
            }
        }
        return out
    }
}
