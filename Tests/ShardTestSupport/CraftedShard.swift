import ZlibKit

/// A MixShard file's bytes edited field by field with its CRCs recomputed
/// (`Zlib.crc32`): hostile input that is self-consistent, so it gets past the
/// checksums to the reader's size and bounds checks.
///
/// Field offsets are DESIGN.md's (header: sampleCount 16, chunkCount 20,
/// samplesPerChunk 24, channels 28, height 30, width 32, classCount 34; index
/// entry: offset 0, storedBytes 8, rawBytes 12, firstSample 16, sampleCount 20;
/// footer: indexOffset 0, chunkCount 8, sampleCount 16).
public struct CraftedShard {
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    public enum Header {
        public static let sampleCount = 16, chunkCount = 20, samplesPerChunk = 24
        public static let channels = 28, height = 30, width = 32, classCount = 34
    }

    public enum Index {
        public static let offset = 0, storedBytes = 8, rawBytes = 12, firstSample = 16, sampleCount = 20
    }

    public enum Footer {
        public static let indexOffset = 0, chunkCount = 8, sampleCount = 16
    }

    var footerStart: Int { bytes.count - 32 }
    /// Where the index starts, as the footer says (valid before any footer edit).
    var indexStart: Int { Int(read(UInt64.self, at: footerStart)) }

    /// Sets a header field and recomputes the header CRC (bytes 60..<64).
    public mutating func header<T: FixedWidthInteger>(_ field: Int, _ value: T) {
        put(value, at: field)
        let crc = bytes.withUnsafeBytes { Zlib.crc32(UnsafeRawBufferPointer(rebasing: $0[0..<60])) }
        put(crc, at: 60)
    }

    /// Sets a field of chunk `chunk`'s index entry and recomputes the index CRC in the footer.
    public mutating func index<T: FixedWidthInteger>(chunk: Int, _ field: Int, _ value: T) {
        let start = indexStart
        put(value, at: start + 32 * chunk + field)
        let crc = bytes.withUnsafeBytes { Zlib.crc32(UnsafeRawBufferPointer(rebasing: $0[start..<footerStart])) }
        put(crc, at: footerStart + 12)
    }

    /// Sets a footer field (the footer has no CRC of its own).
    public mutating func footer<T: FixedWidthInteger>(_ field: Int, _ value: T) {
        put(value, at: footerStart + field)
    }

    func read<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        var v: T = 0
        for i in 0..<MemoryLayout<T>.size { v |= T(bytes[offset + i]) << (8 * i) }
        return v
    }

    mutating func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        for i in 0..<MemoryLayout<T>.size { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
    }
}
