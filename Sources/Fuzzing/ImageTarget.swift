import ImageCodecs
import MixCore

/// Image files as `mixprep` reads image datasets (`ImageDecoder.prepare`): JPEG
/// (libjpeg-turbo, with its scaled decode), PNG (libpng), WebP (libwebp), their EXIF
/// orientation and the libswscale resize.
///
/// Seeds are the good fixtures of `Tests/ImageCodecsTests/Fixtures/decode` and
/// `resize` (every JPEG, PNG and WebP of at most 16 KiB but the `bad-` ones: baseline,
/// progressive, grey, CMYK and YCCK JPEGs, EXIF orientations 1–8, PNGs of every depth
/// and colour type, lossy, lossless and alpha WebP) and the `png` target's PNGs.
/// Mutations are the generic byte mutator's and `ImageMutator`'s (frame, table,
/// EXIF and Adobe fields of a JPEG and cuts inside its scan; IHDR fields and chunks of
/// a PNG, its CRCs usually recomputed; RIFF and chunk sizes and frame headers of a
/// WebP); a few cases are a seed's EXIF block alone, for `EXIF.orientation`, and a few a
/// valid PNG of extreme proportions made here (up to 1,000,000 × 1).
///
/// Each case is prepared as stored, then `shorter` 16×16 bicubic, `stretch` 12×8
/// Lanczos and `shorter` 32×32 bilinear (on a JPEG claiming a big frame, a scaled
/// decode). Besides naming the input, an accepted image must have the policy's size
/// (its own upright size when stored) and 3·w·h bytes, every policy must agree on
/// the format, orientation and original size (and one of them, decoding again with a new
/// decoder, on the pixels), and an image whose EXIF orientation
/// is set to 1 must decode to the stored image, which the orientation turns into the
/// image (orientations 5–8 swap the sides; pixels compared for JPEG and PNG, up to
/// 4 MP). Every EXIF block of the input is also read on its own and from inside a
/// larger buffer, which must agree.
final class ImageTarget: FuzzTarget {
    /// The resizing policies a case is prepared with after `.asIs`.
    static let policies = [
        SizePolicy(width: 16, height: 16, mode: .shorter, filter: .bicubic),
        SizePolicy(width: 12, height: 8, mode: .stretch, filter: .lanczos),
        SizePolicy(width: 32, height: 32, mode: .shorter, filter: .bilinear),
    ]
    /// The largest fixture taken as a seed.
    static let maxSeedBytes = 16_384
    /// The largest image whose orientation is checked against its stored pixels (the
    /// check holds three more copies of it, which must not count as the decoder's memory).
    static let maxCheckedPixels = 1 << 22

    let seeds: [[UInt8]]
    /// The EXIF (TIFF) blocks of the seeds, which bare-block cases start from.
    let tiffSeeds: [[UInt8]]
    /// The name errors must carry.
    let name: String
    let decoder: ImageDecoder

    init(context: FuzzContext) throws {
        var seeds: [[UInt8]] = []
        for folder in ["decode", "resize"] {
            let dir = context.root + "/Tests/ImageCodecsTests/Fixtures/" + folder
            for file in try FileIO.list(dir) where !file.hasPrefix("bad-") {
                let path = dir + "/" + file
                guard let ext = file.split(separator: ".").last, ImageFormat.extensions.contains(ext.lowercased()),
                      let size = FileIO.fileSize(path), size > 0, size <= ImageTarget.maxSeedBytes else { continue }
                let bytes = try FileIO.read(path)
                if bytes.withUnsafeBytes(ImageFormat.sniff) != nil { seeds.append(bytes) }  // not not-an-image.jpg
            }
        }
        guard seeds.count >= 30 else {
            throw SetupError(description: "only \(seeds.count) image fixtures under \(context.root)/Tests/ImageCodecsTests/Fixtures")
        }
        seeds += try PNGTarget.seeds(root: context.root)
        self.seeds = seeds
        tiffSeeds = seeds.flatMap { s in ImageLayout.tiffBlocks(s).map { Array(s[$0]) } }
        name = context.scratch + "/image"
        decoder = try ImageDecoder()
    }

    // MARK: Mutation

    func generate(rng: inout FuzzRNG) -> [UInt8] {
        if rng.chance(0.06) && !tiffSeeds.isEmpty {  // an EXIF block alone
            var block = rng.pick(tiffSeeds)
            for _ in 0..<rng.smallCount(max: 3) { ImageMutator.mutateTIFF(&block, block: 0..<block.count, rng: &rng) }
            if rng.chance(0.3) { ByteMutator.mutate(&block, rng: &rng, donors: tiffSeeds, maxStack: 2) }
            return block
        }
        if rng.chance(0.02) { return ImageMutator.extremePNG(rng: &rng) }  // a long thin line
        var b = rng.pick(seeds)
        if rng.chance(0.75) {
            for _ in 0..<rng.smallCount(max: 3) {
                switch b.withUnsafeBytes(ImageFormat.sniff) {
                case .jpeg: ImageMutator.mutateJPEG(&b, rng: &rng, donors: seeds)
                case .png: ImageMutator.mutatePNG(&b, rng: &rng, donors: seeds)
                case .webp: ImageMutator.mutateWebP(&b, rng: &rng, donors: seeds)
                case nil: ByteMutator.mutateOnce(&b, rng: &rng, donors: seeds)
                }
            }
            if rng.chance(0.25) { ByteMutator.mutate(&b, rng: &rng, donors: seeds, maxStack: 2) }
        } else {
            ByteMutator.mutate(&b, rng: &rng, donors: seeds)
        }
        if b.starts(with: [0x89, 0x50, 0x4E, 0x47]) && rng.chance(0.8) { PNGTarget.fixCRCs(&b) }
        return b
    }

    // MARK: Run

    func run(_ input: [UInt8]) -> FuzzOutcome {
        var steps = Steps(naming: [name])
        var stored: PreparedImage?
        steps.run {
            let p = try prepare(input, policy: .asIs)
            try ImageTarget.check(p, policy: .asIs)
            stored = p
        }
        for (i, policy) in ImageTarget.policies.enumerated() {
            steps.run {
                let p = try prepare(input, policy: policy)
                try ImageTarget.check(p, policy: policy)
                // One policy a case (by the input's length) again on a new decoder: the shared
                // one's state (buffers, scaling context, the files before) must not show.
                if input.count % ImageTarget.policies.count == i {
                    let again: PreparedImage
                    do {
                        again = try input.withUnsafeBytes { try ImageDecoder().prepare($0, name: name, policy: policy) }
                    } catch {
                        throw FuzzInvariant("\(policy.mode) \(policy.width!)×\(policy.height!): refused by a new decoder: \(error)")
                    }
                    guard again.image == p.image else {
                        throw FuzzInvariant("\(policy.mode) \(policy.width!)×\(policy.height!): other pixels from a new decoder")
                    }
                }
                if let s = stored, p.format != s.format || p.orientation != s.orientation
                    || p.originalWidth != s.originalWidth || p.originalHeight != s.originalHeight {
                    throw FuzzInvariant("\(policy.mode) \(policy.width!)×\(policy.height!): \(p.format) orientation \(p.orientation.rawValue), "
                                        + "original \(p.originalWidth)×\(p.originalHeight); as stored: \(s.format) orientation "
                                        + "\(s.orientation.rawValue), \(s.originalWidth)×\(s.originalHeight)")
                }
            }
        }
        if let s = stored, s.originalWidth * s.originalHeight <= ImageTarget.maxCheckedPixels, let upright = ImageMutator.uprighted(input) {
            steps.run { try checkOrientation(s, upright: upright) }
        }
        steps.run { try ImageTarget.checkEXIFBlocks(input) }
        return steps.outcome
    }

    func prepare(_ input: [UInt8], policy: SizePolicy) throws -> PreparedImage {
        try input.withUnsafeBytes { try decoder.prepare($0, name: name, policy: policy) }
    }

    /// An accepted image has the policy's size (its own upright size as stored), 3·w·h
    /// bytes, and an original size within the decoders' limit.
    static func check(_ p: PreparedImage, policy: SizePolicy) throws {
        let image = p.image
        guard image.chw.count == 3 * image.width * image.height else {
            throw FuzzInvariant("\(image.chw.count) bytes for \(image.width)×\(image.height)")
        }
        let expected = policy.width.map { ($0, policy.height!) } ?? (p.originalWidth, p.originalHeight)
        guard image.width == expected.0, image.height == expected.1 else {
            throw FuzzInvariant("\(policy.mode) policy gave \(image.width)×\(image.height), not \(expected.0)×\(expected.1)")
        }
        guard ImageLimits.sizeProblem(width: p.originalWidth, height: p.originalHeight) == nil else {
            throw FuzzInvariant("accepted an original of \(p.originalWidth)×\(p.originalHeight)")
        }
    }

    /// `upright` is the input with its EXIF orientation set to 1: only metadata differs,
    /// so it decodes too, and (when the decoder then sees no orientation) to the stored
    /// image, whose sides `s.orientation` swaps for 5–8 and (JPEG, PNG) whose pixels it
    /// turns into `s`'s image.
    func checkOrientation(_ s: PreparedImage, upright: [UInt8]) throws {
        let plain: PreparedImage
        do {
            plain = try prepare(upright, policy: .asIs)
        } catch {
            throw FuzzInvariant("decodes with orientation \(s.orientation.rawValue) but not with 1: \(error)")
        }
        guard plain.orientation == .up else { return }  // an EXIF block the layout walk did not find
        let (w, h) = (plain.image.width, plain.image.height)
        guard plain.format == s.format, (s.originalWidth, s.originalHeight) == (s.orientation.swapsSides ? (h, w) : (w, h)) else {
            throw FuzzInvariant("orientation \(s.orientation.rawValue): \(s.format) \(s.originalWidth)×\(s.originalHeight) "
                                + "from a stored \(plain.format) \(w)×\(h)")
        }
        // libwebp hands its decoder the rest of the file, not the image chunk: a damaged
        // bitstream reads on into the EXIF chunk, so a WebP's pixels may follow its EXIF bytes.
        guard s.format != .webp else { return }
        guard s.orientation.apply(plain.image) == s.image else {
            throw FuzzInvariant("orientation \(s.orientation.rawValue): the pixels are not the stored ones turned")
        }
    }

    /// Every EXIF block of `input` (the input itself when it is no image) read by
    /// `EXIF.orientation` alone and from inside a larger buffer: the same answer.
    static func checkEXIFBlocks(_ input: [UInt8]) throws {
        var blocks = ImageLayout.tiffBlocks(input).map { Array(input[$0]) }
        if input.withUnsafeBytes(ImageFormat.sniff) == nil && !ImageLayout.isTIFF(input[...]) { blocks.append(input) }
        for block in blocks.prefix(4) {
            let alone = EXIF.orientation(tiff: block[...])
            let padded = [UInt8](repeating: 0x4D, count: 7) + block + [0x00, 0x2A, 0x00, 0x00, 0x00, 0x08, 0x01, 0x12]
            let inside = EXIF.orientation(tiff: padded[7..<(7 + block.count)])
            guard alone == inside else {
                throw FuzzInvariant("EXIF block of \(block.count) bytes: orientation \(alone.map { "\($0.rawValue)" } ?? "none") alone, "
                                    + "\(inside.map { "\($0.rawValue)" } ?? "none") inside a larger buffer")
            }
        }
    }
}
