/// Format-blind mutations of a byte string: bit and byte flips, random bytes,
/// interesting integers at aligned offsets, truncation, extension, deletion,
/// duplication and splicing with another input of the corpus.
public enum ByteMutator {
    /// The interesting integers: 0, ±1, the signed and unsigned extremes of each
    /// width, 2^31, 2^32, 2^63 and a few just past a boundary.
    public static let interesting: [UInt64] = [
        0, 1, 2, 3, 4, 7, 8, 16, 31, 32, 63, 64, 100, 127, 128, 255, 256, 512, 1000, 1024, 4096,
        0x7fff, 0x8000, 0xffff, 0x1_0000, 65_537,
        0x7fff_ffff, 0x8000_0000, 0x8000_0001, 0xffff_fffe, 0xffff_ffff, 0x1_0000_0000, 0x1_0000_0001,
        1 << 40, 0x7fff_ffff_ffff_ffff, 0x8000_0000_0000_0000, 0xffff_ffff_ffff_fffe, 0xffff_ffff_ffff_ffff,
        UInt64(bitPattern: -2), UInt64(bitPattern: -128), UInt64(bitPattern: -32768), UInt64(bitPattern: -1_000_000),
    ]

    /// The largest input a mutation produces.
    public static let maxSize = 1 << 20

    /// Applies 1 to `maxStack` mutations (biased to few) to `bytes`; `donors` are
    /// other inputs for splicing.
    public static func mutate(_ bytes: inout [UInt8], rng: inout FuzzRNG, donors: [[UInt8]], maxStack: Int = 6) {
        for _ in 0..<rng.smallCount(max: maxStack) {
            mutateOnce(&bytes, rng: &rng, donors: donors)
        }
    }

    /// One mutation, chosen at random.
    public static func mutateOnce(_ bytes: inout [UInt8], rng: inout FuzzRNG, donors: [[UInt8]]) {
        if bytes.isEmpty {
            bytes = (0..<rng.int(in: 1...64)).map { _ in rng.byte() }
            return
        }
        switch rng.below(14) {
        case 0: // flip one bit
            let i = rng.below(bytes.count)
            bytes[i] ^= 1 << UInt8(rng.below(8))
        case 1: // random byte
            bytes[rng.below(bytes.count)] = rng.byte()
        case 2: // interesting byte
            bytes[rng.below(bytes.count)] = rng.pick([0, 1, 0x7f, 0x80, 0xff, 0x20, 0x0a, 0x22, 0x5c])
        case 3, 4, 5: // interesting integer at an aligned offset
            writeInteresting(&bytes, rng: &rng)
        case 6: // add or subtract a small amount to a byte or word
            let width = rng.pick([1, 2, 4, 8])
            guard bytes.count >= width else { return }
            let at = rng.below(bytes.count / width) * width
            let delta = UInt64(rng.int(in: 1...35))
            let v = read(bytes, at: at, width: width)
            write(&bytes, rng.chance(0.5) ? v &+ delta : v &- delta, at: at, width: width, bigEndian: false)
        case 7: // truncate
            bytes.removeSubrange(rng.below(bytes.count)...)
        case 8: // extend with zeros, random bytes or a copy of a piece
            let n = min(rng.pick([1, 4, 16, 64, 512, 4096]), maxSize - bytes.count)
            guard n > 0 else { return }
            switch rng.below(3) {
            case 0: bytes += [UInt8](repeating: 0, count: n)
            case 1: bytes += (0..<n).map { _ in rng.byte() }
            default:
                let start = rng.below(bytes.count)
                bytes += bytes[start..<min(bytes.count, start + n)]
            }
        case 9: // delete a range
            let start = rng.below(bytes.count)
            let n = min(rng.pick([1, 2, 4, 8, 32, 256]), bytes.count - start)
            bytes.removeSubrange(start..<(start + n))
        case 10: // duplicate a range in place
            let start = rng.below(bytes.count)
            let n = min(rng.pick([1, 4, 32, 256]), bytes.count - start, maxSize - bytes.count)
            guard n > 0 else { return }
            bytes.insert(contentsOf: Array(bytes[start..<(start + n)]), at: start)
        case 11: // insert random bytes
            let n = min(rng.pick([1, 2, 4, 8, 64]), maxSize - bytes.count)
            guard n > 0 else { return }
            bytes.insert(contentsOf: (0..<n).map { _ in rng.byte() }, at: rng.below(bytes.count + 1))
        case 12: // overwrite a range with a copy of another range
            let n = min(rng.pick([1, 4, 8, 32]), bytes.count)
            let from = rng.below(bytes.count - n + 1), to = rng.below(bytes.count - n + 1)
            let piece = Array(bytes[from..<(from + n)])
            bytes.replaceSubrange(to..<(to + n), with: piece)
        default: // splice with a donor: our prefix and its suffix, or a piece of it inserted
            guard let donor = donors.isEmpty ? nil : rng.pick(donors), !donor.isEmpty else { return }
            if rng.chance(0.5) {
                let cut = rng.below(bytes.count + 1)
                let from = rng.below(donor.count)
                bytes = Array(bytes[..<cut]) + donor[from...]
            } else {
                let from = rng.below(donor.count)
                let n = min(rng.pick([4, 16, 64, 512]), donor.count - from)
                bytes.insert(contentsOf: donor[from..<(from + n)], at: rng.below(bytes.count + 1))
            }
            if bytes.count > maxSize { bytes.removeSubrange(maxSize...) }
        }
    }

    /// Writes an interesting integer (of width 1, 2, 4 or 8, usually little-endian)
    /// at a random offset aligned to its width.
    public static func writeInteresting(_ bytes: inout [UInt8], rng: inout FuzzRNG) {
        let width = rng.pick([1, 2, 4, 4, 8, 8])
        guard bytes.count >= width else { return }
        let at = rng.below(bytes.count / width) * width
        write(&bytes, rng.pick(interesting), at: at, width: width, bigEndian: rng.chance(0.15))
    }

    /// Little-endian read of `width` bytes at `at`.
    public static func read(_ bytes: [UInt8], at: Int, width: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<width { v |= UInt64(bytes[at + i]) << (8 * UInt64(i)) }
        return v
    }

    /// Writes the low `width` bytes of `value` at `at`.
    public static func write(_ bytes: inout [UInt8], _ value: UInt64, at: Int, width: Int, bigEndian: Bool = false) {
        for i in 0..<width {
            let shift = 8 * UInt64(bigEndian ? width - 1 - i : i)
            bytes[at + i] = UInt8(truncatingIfNeeded: value >> shift)
        }
    }
}
