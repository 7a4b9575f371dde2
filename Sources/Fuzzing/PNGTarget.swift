import ImageCodecs
import Imaging
import MixCore
import ZlibKit

/// PNG decoding (image-folder datasets): small PNGs committed under `docs/`
/// and a few encoded at start-up (RGB and grey), mutated with each chunk's CRC
/// usually recomputed, and IHDR fields (size, depth, colour type, interlace)
/// set to interesting values; read with `PNG.read`.
final class PNGTarget: FuzzTarget {
    let seeds: [[UInt8]]
    let path: String

    init(context: FuzzContext) throws {
        seeds = try PNGTarget.seeds(root: context.root)
        path = context.scratch + "/image.png"
    }

    /// The first four PNGs of at most 4 KiB under `docs/`, then an RGB and a grey PNG
    /// encoded here (the `image` target starts from these too).
    static func seeds(root: String) throws -> [[UInt8]] {
        var found: [String] = []
        func walk(_ dir: String, depth: Int) {
            guard depth < 6, let names = try? FileIO.list(dir) else { return }
            for name in names {
                let p = dir + "/" + name
                if FileIO.isDirectory(p) { walk(p, depth: depth + 1) } else if name.hasSuffix(".png"), (FileIO.fileSize(p) ?? .max) <= 4096 { found.append(p) }
            }
        }
        walk(root + "/docs", depth: 0)
        var seeds = try found.prefix(4).map { try FileIO.read($0) }
        let rgb = RGBImage(width: 5, height: 3, pixels: (0..<45).map { UInt8($0 * 5) })
        seeds.append(try PNG.encode(rgb))
        seeds.append(try PNG.encodeGrey((0..<14).map { UInt8($0 * 17) }, width: 7, height: 2))
        return seeds
    }

    /// Recomputes the CRC of every chunk whose bounds fit in the file.
    static func fixCRCs(_ b: inout [UInt8]) {
        var at = 8
        while at + 12 <= b.count {
            let length = Int(ByteMutator.read(Array(b[at..<(at + 4)].reversed()), at: 0, width: 4))
            guard length <= b.count - at - 12 else { return }
            let crc = b.withUnsafeBytes { Zlib.crc32(UnsafeRawBufferPointer(rebasing: $0[(at + 4)..<(at + 8 + length)])) }
            ByteMutator.write(&b, UInt64(crc), at: at + 8 + length, width: 4, bigEndian: true)
            at += 12 + length
        }
    }

    func generate(rng: inout FuzzRNG) -> [UInt8] {
        var b = rng.pick(seeds)
        if rng.chance(0.4) && b.count >= 33 { // IHDR: width 16, height 20, depth 24, colour 25, compression 26, filter 27, interlace 28
            let (at, width) = rng.pick([(16, 4), (20, 4), (24, 1), (25, 1), (26, 1), (27, 1), (28, 1)])
            let value: UInt64 = width == 4 ? rng.pick([0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 18_000, 65_535, 1 << 20, 100_000])
                                   : rng.pick([0, 1, 2, 3, 4, 6, 7, 8, 16, 32, 255])
            ByteMutator.write(&b, value, at: at, width: width, bigEndian: true)
            if rng.chance(0.3) { ByteMutator.mutate(&b, rng: &rng, donors: seeds, maxStack: 2) }
        } else {
            ByteMutator.mutate(&b, rng: &rng, donors: seeds)
        }
        if rng.chance(0.8) { PNGTarget.fixCRCs(&b) }
        return b
    }

    func run(_ input: [UInt8]) -> FuzzOutcome {
        Scratch.write(path, input)
        var steps = Steps(naming: [path])
        steps.run {
            let image = try PNG.read(path)
            guard image.chw.count == 3 * image.width * image.height else { throw FuzzInvariant("decoded \(image.chw.count) bytes") }
        }
        return steps.outcome
    }
}
