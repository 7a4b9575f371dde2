import ImageCodecs
import ZlibKit

/// Structure-aware mutations of JPEG, PNG and WebP files and of EXIF (TIFF) blocks,
/// for the `image` target: header fields set to interesting values where
/// `ImageLayout` finds them, so that mutants get past the signature and length
/// checks to the decoders, the EXIF reader and the resizer.
enum ImageMutator {
    // MARK: JPEG

    /// Sides a frame header may claim: edge values, around Pillow's limit (9,459²) and past it.
    static let jpegSides: [UInt64] = [0, 1, 2, 7, 8, 9, 15, 16, 17, 255, 256, 4096, 9459, 9460, 16384, 32767, 32768, 65500, 65535]
    /// Frames claiming big sizes, which a small file cannot fill (libjpeg fills in what is missing): the
    /// `shorter` 32×32 policy decodes them scaled. Accepted ones stay at 12 MP: at Pillow's limit (89 MP,
    /// reached by two side edits) a CMYK frame takes 7 s to convert in a debug build, too close to a hang.
    static let bigFrames: [(UInt64, UInt64)] = [(2048, 1536), (4000, 3000), (3000, 4000), (9460, 9460), (65535, 65535),
                                                (65535, 1), (1, 65535), (1024, 64), (64, 1024)]
    static let samplingFactors: [UInt8] = [0x00, 0x11, 0x12, 0x21, 0x22, 0x13, 0x31, 0x14, 0x41, 0x24, 0x42, 0x44, 0x33, 0x10, 0x01, 0xFF]
    static let frameMarkers: [UInt8] = [0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF]

    /// One edit of a JPEG: a frame header field (size, components, sampling factors,
    /// quantisation table, precision, the SOF kind), a DHT or DQT length or field, the
    /// EXIF block, the Adobe transform, a scan header field, the restart interval, a
    /// segment copied in from `donors`, or a cut inside the scan.
    static func mutateJPEG(_ b: inout [UInt8], rng: inout FuzzRNG, donors: [[UInt8]]) {
        let (segments, scan) = ImageLayout.jpegSegments(b)
        guard !segments.isEmpty else { return ByteMutator.mutateOnce(&b, rng: &rng, donors: donors) }
        func field(_ s: ImageLayout.Segment, _ offset: Int, _ value: UInt64, width: Int = 1) {
            let at = s.data.lowerBound + offset
            guard at + width <= s.data.upperBound else { return }
            ByteMutator.write(&b, value, at: at, width: width, bigEndian: true)
        }
        func some(_ test: (ImageLayout.Segment) -> Bool) -> ImageLayout.Segment? {
            segments.filter(test).randomElement(using: &rng)
        }
        switch rng.below(12) {
        case 0, 1, 2: // the frame header: [P][Y][X][Nf] then [C][H/V][Tq] per component
            guard let sof = some(\.isFrame) else { fallthrough }
            let components = max(1, min(4, sof.data.count >= 6 ? Int(b[sof.data.lowerBound + 5]) : 0))
            switch rng.below(8) {
            case 0: field(sof, 1, rng.pick(jpegSides), width: 2)
            case 1: field(sof, 3, rng.pick(jpegSides), width: 2)
            case 2:
                let (w, h) = rng.pick(bigFrames)
                field(sof, 1, h, width: 2)
                field(sof, 3, w, width: 2)
            case 3: field(sof, 5, rng.pick([0, 1, 2, 3, 4, 5, 255]))
            case 4: field(sof, 7 + 3 * rng.below(components), UInt64(rng.pick(samplingFactors)))
            case 5: field(sof, 8 + 3 * rng.below(components), rng.pick([0, 1, 2, 3, 4, 255]))
            case 6: field(sof, 6 + 3 * rng.below(components), rng.pick([0, 1, 2, 3, 4, 0x52, 0x47, 255]))  // component ids
            default:
                if rng.chance(0.5) { field(sof, 0, rng.pick([0, 1, 8, 12, 16, 255])) } else { b[sof.at + 1] = rng.pick(frameMarkers) }
            }
        case 3, 4: // DHT and DQT: the length, the class/id byte, a count or a table entry
            guard let t = some({ $0.marker == 0xC4 || $0.marker == 0xDB }) else { fallthrough }
            let length = UInt64(t.data.count + 2)
            switch rng.below(4) {
            case 0: ByteMutator.write(&b, rng.pick([0, 1, 2, 3, 4, 17, 19, 67, 132, length - 1, length + 1, 2 * length, 0xFFFF]),
                                      at: t.lengthField, width: 2, bigEndian: true)
            case 1: field(t, 0, rng.pick(t.marker == 0xDB ? [0x00, 0x01, 0x03, 0x04, 0x10, 0x11, 0x13, 0xFF] : [0x00, 0x01, 0x10, 0x11, 0x03, 0x14, 0x20, 0xFF]))
            case 2: field(t, 1 + rng.below(16), rng.pick([0, 1, 2, 16, 100, 255]))  // a DHT code count, or a DQT entry
            default: if !t.data.isEmpty { b[t.data.lowerBound + rng.below(t.data.count)] = rng.pick([0, 1, 0x7F, 0xFF]) }
            }
        case 5, 6: // the EXIF block: orientation, IFD offset and count, byte order
            guard let exif = some({ $0.marker == 0xE1 && b[$0.data].starts(with: ImageLayout.exifHeader) }) else { fallthrough }
            if rng.chance(0.15) {
                ByteMutator.write(&b, rng.pick([0, 2, 6, 7, 8, 14, UInt64(exif.data.count + 1), UInt64(exif.data.count + 3), 0xFFFF]),
                                  at: exif.lengthField, width: 2, bigEndian: true)
            } else {
                mutateTIFF(&b, block: (exif.data.lowerBound + 6)..<exif.data.upperBound, rng: &rng)
            }
        case 7: // the Adobe segment's transform byte (0 RGB/CMYK, 1 YCbCr, 2 YCCK)
            guard let adobe = some({ $0.marker == 0xEE && b[$0.data].starts(with: Array("Adobe".utf8)) }) else { fallthrough }
            if rng.chance(0.8) { field(adobe, 11, rng.pick([0, 1, 2, 3, 255])) } else {
                ByteMutator.write(&b, rng.pick([2, 7, 8, 13, 14, 15]), at: adobe.lengthField, width: 2, bigEndian: true)
            }
        case 8: // the scan header [Ns][Cs Td/Ta]… [Ss][Se][Ah/Al], or the restart interval
            guard let sos = some({ $0.marker == 0xDA || $0.marker == 0xDD }), !sos.data.isEmpty else { fallthrough }
            b[sos.data.lowerBound + rng.below(sos.data.count)] = rng.pick([0, 1, 2, 3, 4, 5, 13, 63, 64, 0x11, 0xF0, 0xFF])
        case 9: // a segment of another JPEG (EXIF, Adobe, tables, a second frame) inserted before one of ours
            let jpegs = donors.filter { $0.starts(with: [0xFF, 0xD8]) }
            guard !jpegs.isEmpty else { fallthrough }
            let donor = rng.pick(jpegs)
            guard let piece = ImageLayout.jpegSegments(donor).segments.filter({ $0.marker != 0xDA }).randomElement(using: &rng) else { fallthrough }
            let at = rng.pick(segments).at
            b.insert(contentsOf: donor[piece.at..<piece.data.upperBound], at: at)
        case 10: // a segment dropped or repeated
            let s = rng.pick(segments)
            let range = s.at..<s.data.upperBound
            if rng.chance(0.5) { b.removeSubrange(range) } else { b.insert(contentsOf: Array(b[range]), at: s.at) }
        default: // cut inside the scan, sometimes with the end-of-image marker put back
            guard let scan, scan < b.count else { return ByteMutator.mutateOnce(&b, rng: &rng, donors: donors) }
            b.removeSubrange(rng.int(in: scan...(b.count - 1))...)
            if rng.chance(0.4) { b += [0xFF, 0xD9] }
        }
    }

    // MARK: PNG

    /// Every (bit depth, colour type) pair PNG allows.
    static let validDepthColour: [(UInt8, UInt8)] = [(1, 0), (2, 0), (4, 0), (8, 0), (16, 0), (8, 2), (16, 2), (1, 3), (2, 3), (4, 3),
                                                      (8, 3), (8, 4), (16, 4), (8, 6), (16, 6)]

    /// One edit of a PNG: an IHDR field (size, depth, colour type, compression, filter,
    /// interlace), the eXIf block, a chunk's length, a chunk dropped, repeated or moved,
    /// or a chunk of another PNG (eXIf, PLTE, tRNS) inserted. CRCs are left to the caller.
    static func mutatePNG(_ b: inout [UInt8], rng: inout FuzzRNG, donors: [[UInt8]]) {
        let all = ImageLayout.pngChunks(b)
        guard !all.isEmpty else { return ByteMutator.mutateOnce(&b, rng: &rng, donors: donors) }
        // The chunks edited and the places chunks go: after IHDR mostly (a PNG must start with it).
        let chunks = all.count > 1 && rng.chance(0.9) ? Array(all.dropFirst()) : all
        switch rng.below(9) {
        case 0, 1, 2: // IHDR: width 16, height 20, depth 24, colour 25, compression 26, filter 27, interlace 28
            guard b.count >= 29 else { fallthrough }
            if rng.chance(0.3) { // a valid depth and colour type, which the image data may not match
                let (depth, colour) = rng.pick(validDepthColour)
                b[24] = depth
                b[25] = colour
                return
            }
            let (at, width) = rng.pick([(16, 4), (20, 4), (24, 1), (25, 1), (26, 1), (27, 1), (28, 1)])
            let value: UInt64 = width == 4 ? rng.pick([0, 1, 2, 3, 7, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 18_000, 65_535, 1 << 20, 1_000_000, 1_000_001, 100_000])
                                   : rng.pick([0, 1, 2, 3, 4, 6, 7, 8, 16, 32, 255])
            ByteMutator.write(&b, value, at: at, width: width, bigEndian: true)
        case 3, 4: // the eXIf block
            guard let exif = chunks.filter({ $0.type == Array("eXIf".utf8) }).randomElement(using: &rng) else { fallthrough }
            mutateTIFF(&b, block: exif.data, rng: &rng)
        case 5: // a chunk's length
            let c = rng.pick(chunks)
            let length = UInt64(c.data.count)
            ByteMutator.write(&b, rng.pick([0, 1, 2, 3, 12, 13, 14, length &- 1, length + 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff]),
                              at: c.at, width: 4, bigEndian: true)
        case 6, 7: // a chunk dropped, repeated, or moved before another
            let c = rng.pick(chunks)
            moveChunk(&b, c.at..<min(b.count, c.data.upperBound + 4), to: rng.pick(chunks).at, rng: &rng)
        default: // a chunk of another PNG (its eXIf, PLTE, tRNS, …) inserted before one of ours
            let pngs = donors.filter { $0.starts(with: [0x89, 0x50, 0x4E, 0x47]) }
            guard !pngs.isEmpty else { return ByteMutator.mutateOnce(&b, rng: &rng, donors: donors) }
            let donor = rng.pick(pngs)
            let theirs = ImageLayout.pngChunks(donor).filter { $0.type != Array("IHDR".utf8) && $0.type != Array("IEND".utf8) }
            guard let piece = theirs.randomElement(using: &rng) else { return }
            b.insert(contentsOf: donor[piece.at..<min(donor.count, piece.data.upperBound + 4)], at: rng.pick(chunks).at)
        }
    }

    /// Sides of the PNGs `extremePNG` makes: long thin lines (which `shorter` scales to
    /// far more pixels than they have) and a few milder ones.
    static let extremeSides: [(Int, Int)] = [(1_000_000, 1), (1, 1_000_000), (700_000, 2), (2, 700_000), (20_000, 3), (3, 20_000),
                                             (5_000, 1), (1, 5_000)]

    /// A valid grey or RGB PNG of extreme proportions, encoded here: small files whose
    /// pixels a mutated header cannot supply.
    static func extremePNG(rng: inout FuzzRNG) -> [UInt8] {
        let (w, h) = rng.pick(extremeSides)
        let channels = rng.chance(0.5) ? 1 : 3
        let step = rng.pick([0, 1, 7])
        // Bytes i·step (mod 256), copied a period at a time (a byte at a time is slow in a debug build).
        let period = (0..<256).map { UInt8(truncatingIfNeeded: $0 &* step) }
        var pixels = [UInt8](repeating: 0, count: w * h * channels)
        pixels.withUnsafeMutableBufferPointer { out in
            for at in stride(from: 0, to: out.count, by: 256) {
                (out.baseAddress! + at).update(from: period, count: min(256, out.count - at))
            }
        }
        return (try? PNG.encodeInterleaved(pixels, width: w, height: h, channels: channels, name: "an extreme PNG")) ?? []
    }

    // MARK: WebP

    /// One edit of a WebP: the RIFF size, a chunk's size (VP8, VP8L, VP8X, ALPH, EXIF),
    /// the VP8X flags and canvas, the VP8L or VP8 frame size, the EXIF block, a chunk
    /// dropped, repeated or swapped, or an EXIF chunk of another WebP inserted.
    static func mutateWebP(_ b: inout [UInt8], rng: inout FuzzRNG, donors: [[UInt8]]) {
        let chunks = ImageLayout.riffChunks(b)
        guard !chunks.isEmpty else { return ByteMutator.mutateOnce(&b, rng: &rng, donors: donors) }
        func typed(_ name: String) -> ImageLayout.Chunk? {
            chunks.filter { $0.type == Array(name.utf8) }.randomElement(using: &rng)
        }
        func field(_ c: ImageLayout.Chunk, _ offset: Int, _ value: UInt64, width: Int) {
            let at = c.data.lowerBound + offset
            guard at + width <= c.data.upperBound else { return }
            ByteMutator.write(&b, value, at: at, width: width)
        }
        let n = UInt64(b.count)
        switch rng.below(11) {
        case 0, 1: // the RIFF size
            ByteMutator.write(&b, rng.pick([0, 1, 4, n - 9, n - 8, n - 7, n, n + 1, 0x7fff_ffff, 0xffff_fff6, 0xffff_ffff]), at: 4, width: 4)
        case 2, 3: // a chunk's size
            let c = rng.pick(chunks)
            let size = UInt64(c.data.count), rest = UInt64(b.count - c.data.lowerBound)
            ByteMutator.write(&b, rng.pick([0, 1, 2, 5, 10, size &- 1, size + 1, size + 2, rest, rest + 1, 0x7fff_ffff, 0xffff_fff7, 0xffff_ffff]),
                              at: c.at + 4, width: 4)
        case 4: // VP8X: flags (ICC 0x20, alpha 0x10, EXIF 0x08, XMP 0x04, animation 0x02), canvas width − 1 and height − 1 (24 bits)
            guard let x = typed("VP8X") else { fallthrough }
            switch rng.below(3) {
            case 0: field(x, 0, UInt64(rng.pick([0, 0x02, 0x04, 0x08, 0x10, 0x18, 0x20, 0x3E, 0xFF] as [UInt8])), width: 1)
            default: field(x, rng.chance(0.5) ? 4 : 7, rng.pick([0, 1, 15, 255, 9458, 9459, 16383, 16384, 0xFF_FFFF]), width: 3)
            }
        case 5: // VP8L: signature 0x2F, then 14 bits width − 1, 14 bits height − 1, alpha, 3 bits version
            guard let l = typed("VP8L"), l.data.count >= 5 else { fallthrough }
            var bits = ByteMutator.read(b, at: l.data.lowerBound + 1, width: 4)
            switch rng.below(4) {
            case 0: bits = bits & ~0x3FFF | rng.pick([0, 1, 0x3FFF, 9458, 255])
            case 1: bits = bits & ~(0x3FFF << 14) | rng.pick([0, 1, 0x3FFF, 9458, 255]) << 14
            case 2: bits ^= 1 << UInt64(rng.int(in: 28...31))
            default: b[l.data.lowerBound] = rng.pick([0x2F, 0x2E, 0x00, 0xFF])
            }
            ByteMutator.write(&b, bits, at: l.data.lowerBound + 1, width: 4)
        case 6: // VP8: frame tag (key frame, version, partition size), start code, 14-bit sizes with 2 scale bits
            guard let v = typed("VP8 ") else { fallthrough }
            switch rng.below(4) {
            case 0: field(v, 6, rng.pick([0, 1, 16, 0x3FFF, 0x4010, 0xC010, 0xFFFF]), width: 2)
            case 1: field(v, 8, rng.pick([0, 1, 16, 0x3FFF, 0x4010, 0xC010, 0xFFFF]), width: 2)
            case 2: field(v, 0, rng.pick([0, 1, 0x10, 0xFFFF_FF, 0x9D_012A, 0x00_0010, 0x0F_FFF0]), width: 3)
            default: field(v, 3 + rng.below(3), rng.pick([0, 0x9D, 0x01, 0x2A, 0xFF]), width: 1)
            }
        case 7, 8: // the EXIF block
            guard let e = typed("EXIF") else { fallthrough }
            let skip = b[e.data].starts(with: ImageLayout.exifHeader) ? 6 : 0
            mutateTIFF(&b, block: (e.data.lowerBound + min(skip, e.data.count))..<e.data.upperBound, rng: &rng)
        case 9: // a chunk dropped, repeated or moved
            let c = rng.pick(chunks)
            moveChunk(&b, c.at..<min(b.count, c.data.upperBound + (c.data.count & 1)), to: rng.pick(chunks).at, rng: &rng)
        default: // an EXIF (or other) chunk of another WebP inserted before one of ours
            let webps = donors.filter { !ImageLayout.riffChunks($0).isEmpty }
            guard !webps.isEmpty else { return ByteMutator.mutateOnce(&b, rng: &rng, donors: donors) }
            let donor = rng.pick(webps)
            let theirs = ImageLayout.riffChunks(donor)
            let piece = theirs.first { $0.type == Array("EXIF".utf8) } ?? rng.pick(theirs)
            b.insert(contentsOf: donor[piece.at..<min(donor.count, piece.data.upperBound + (piece.data.count & 1))], at: rng.pick(chunks).at)
        }
    }

    // MARK: EXIF

    /// One edit of the TIFF block at `block` of `b`: the byte order, the magic
    /// number, the IFD0 offset or entry count, or an IFD0 entry (the orientation's
    /// value, type, count or tag most of the time), in the block's byte order.
    static func mutateTIFF(_ b: inout [UInt8], block: Range<Int>, rng: inout FuzzRNG) {
        guard block.count >= 8, block.upperBound <= b.count, let ifd = ImageLayout.ifd0(b, block: block) else {
            if !block.isEmpty { b[block.lowerBound + rng.below(block.count)] = rng.byte() }
            return
        }
        let length = UInt64(block.count)
        func write(_ value: UInt64, at: Int, width: Int) {
            guard at >= block.lowerBound, at + width <= block.upperBound else { return }
            ByteMutator.write(&b, value, at: at, width: width, bigEndian: ifd.bigEndian)
        }
        let orientation = ifd.entries.first { e in
            (ifd.bigEndian ? Int(b[e]) << 8 | Int(b[e + 1]) : Int(b[e]) | Int(b[e + 1]) << 8) == 0x0112
        }
        switch rng.below(10) {
        case 0: // byte order swapped, or a bad one
            let order: [UInt8] = rng.pick([[0x49, 0x49], [0x4D, 0x4D], [0x49, 0x4D], [0, 0]])
            b.replaceSubrange(block.lowerBound..<(block.lowerBound + 2), with: order)
        case 1: write(rng.pick([0, 41, 43, 0x2A00, 0xFFFF]), at: block.lowerBound + 2, width: 2)
        case 2: write(rng.pick([0, 1, 7, 8, 9, length - 2, length - 1, length, length + 1, 26, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff]),
                      at: ifd.offsetField, width: 4)
        case 3:
            guard let count = ifd.countField else { fallthrough }
            write(rng.pick([0, 1, 2, UInt64(ifd.entries.count + 1), 0x7FFF, 0xFFFF]), at: count, width: 2)
        default: // an entry: tag, type, count or value
            guard let entry = (rng.chance(0.8) ? orientation : nil) ?? ifd.entries.randomElement(using: &rng) else {
                return write(rng.pick([0, 1, 0xFFFF]), at: ifd.countField ?? ifd.offsetField, width: 2)
            }
            switch rng.below(6) {
            case 0: write(rng.pick([0x0112, 0x0111, 0x0113, 0x8769, 0]), at: entry, width: 2)
            case 1: write(rng.pick([0, 1, 3, 4, 5, 7, 9, 0xFFFF]), at: entry + 2, width: 2)
            case 2: write(rng.pick([0, 1, 2, 0x8000_0000, 0xffff_ffff]), at: entry + 4, width: 4)
            case 3: write(rng.pick([0, 9, 255, 0x100, 0xFFFF, 0x1_0006, 0xffff_ffff]), at: entry + 8, width: 4)
            default: write(UInt64(rng.int(in: 0...9)), at: entry + 8, width: 2)  // the value (SHORT), valid ones mostly
            }
        }
    }

    /// `b` with the value of every orientation entry of its EXIF blocks set to 1 (up),
    /// as a SHORT or LONG like the entry's type; nil when it has none. Only EXIF bytes
    /// change (a PNG chunk's CRC is recomputed if it held), so its pixels decode the same.
    static func uprighted(_ b: [UInt8]) -> [UInt8]? {
        let entries = ImageLayout.orientationEntries(b)
        guard !entries.isEmpty else { return nil }
        var out = b
        for (e, big) in entries {
            let type = big ? Int(b[e + 2]) << 8 | Int(b[e + 3]) : Int(b[e + 2]) | Int(b[e + 3]) << 8
            ByteMutator.write(&out, 1, at: e + 8, width: type == 4 ? 4 : 2, bigEndian: big)
        }
        if out.starts(with: [0x89, 0x50, 0x4E, 0x47]) {
            for c in ImageLayout.pngChunks(b) where c.type == Array("eXIf".utf8) && c.data.upperBound + 4 <= b.count {
                let crc = { (x: [UInt8]) in Zlib.crc32(Array(x[(c.at + 4)..<c.data.upperBound])) }
                if ByteMutator.read(Array(b[c.data.upperBound..<(c.data.upperBound + 4)].reversed()), at: 0, width: 4) == UInt64(crc(b)) {
                    ByteMutator.write(&out, UInt64(crc(out)), at: c.data.upperBound, width: 4, bigEndian: true)
                }
            }
        }
        return out
    }

    /// The bytes at `range` (a whole chunk) dropped, repeated in place, or moved before `other` (a chunk's start).
    static func moveChunk(_ b: inout [UInt8], _ range: Range<Int>, to other: Int, rng: inout FuzzRNG) {
        let piece = Array(b[range])
        switch rng.below(3) {
        case 0: b.removeSubrange(range)
        case 1: b.insert(contentsOf: piece, at: range.lowerBound)
        default:
            b.removeSubrange(range)
            b.insert(contentsOf: piece, at: min(b.count, other))
        }
    }
}
