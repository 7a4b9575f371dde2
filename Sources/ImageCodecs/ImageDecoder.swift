import MixCore

/// The formats `ImageDecoder` reads, recognised by their first bytes (not by the file's
/// extension, as PIL does: a PNG named `.jpg` is read as a PNG).
public enum ImageFormat: String, Sendable, CaseIterable {
    case jpeg = "JPEG", png = "PNG", webp = "WebP"

    /// The format `bytes` start with, or nil.
    public static func sniff(_ bytes: UnsafeRawBufferPointer) -> ImageFormat? {
        if bytes.count >= 3 && Array(bytes[0..<3]) == JPEG.signature { return .jpeg }
        if bytes.count >= 8 && Array(bytes[0..<8]) == PNG.signature { return .png }
        if WebP.isWebP(bytes) { return .webp }
        return nil
    }

    /// File name extensions (lower case) read as images.
    public static let extensions: Set<String> = ["jpg", "jpeg", "png", "webp"]
}

/// One source image as mixprep stores it, with what the file said about itself.
public struct PreparedImage: Sendable {
    /// Upright, at the policy's size.
    public var image: DecodedImage
    public var format: ImageFormat
    /// The upright size of the original (after the EXIF orientation, before any resize).
    public var originalWidth: Int
    public var originalHeight: Int
    /// The EXIF orientation that was applied (`.up` when the file has none, or none that is valid).
    public var orientation: Orientation
}

/// Decodes JPEG, PNG and WebP files to upright 8-bit RGB and brings them to a
/// `SizePolicy`'s size. Holds a scaling context and its buffers: not thread-safe,
/// one per thread (`ImageDecoder.Pool`).
public final class ImageDecoder {
    private let resampler = Resampler()

    public init() throws {}

    /// Decodes `bytes` (named `name` in errors) upright, at `policy`'s size. With
    /// `policy.mode == .none` the image keeps its size (the caller checks it).
    public func prepare(_ bytes: UnsafeRawBufferPointer, name: String, policy: SizePolicy) throws -> PreparedImage {
        guard let format = ImageFormat.sniff(bytes) else {
            throw MixError.file(name, bytes.isEmpty ? "the file is empty" : "not a JPEG, PNG or WebP image (unknown first bytes)")
        }
        var image: DecodedImage
        var orientation = Orientation.up
        switch format {
        case .jpeg:
            // A new decompressor per file: a TurboJPEG handle keeps the quantisation and Huffman
            // tables of the last file it read (for abbreviated datastreams), so a file without
            // them decoded with another file's, and its bytes depended on which files one thread
            // read before (mixfuzz target `image`); it also keeps its last error message.
            let decompressor = try JPEG.Decompressor()
            let header = try JPEG.header(bytes, name: name, with: decompressor)
            if let problem = ImageLimits.sizeProblem(width: header.width, height: header.height) {
                throw MixError.file(name, "JPEG " + problem)
            }
            orientation = JPEGMarkers(bytes).exif.flatMap(EXIF.orientation(tiff:)) ?? .up
            let scale = policy.jpegReduction(storedWidth: header.width, storedHeight: header.height, orientation: orientation)
            let packed = try JPEG.decode(bytes, header: header, scale: scale, name: name, with: decompressor)
            let full = (header.width, header.height)
            let original = orientation.swapsSides ? (full.1, full.0) : full
            guard orientation == .up else {
                return try finish(packed.planar(), format: format, orientation: orientation, original: original, policy: policy, name: name)
            }
            do {
                return PreparedImage(image: try policy.apply(packed, with: resampler), format: format, originalWidth: original.0,
                                     originalHeight: original.1, orientation: orientation)
            } catch let e as MixError {
                throw MixError.file(name, e.message)
            }
        case .png:
            let decoded = try PNG.decodeWithEXIF(bytes, name: name)
            image = decoded.image
            orientation = decoded.exif.flatMap { EXIF.orientation(tiff: $0[...]) } ?? .up
        case .webp:
            let (w, h) = try WebP.header(bytes, name: name)
            if let problem = ImageLimits.sizeProblem(width: w, height: h) { throw MixError.file(name, "WebP " + problem) }
            image = try WebP.decode(bytes, width: w, height: h, name: name)
            orientation = WebPChunks.exif(bytes).flatMap(EXIF.orientation(tiff:)) ?? .up
        }
        let full = (image.width, image.height)
        return try finish(image, format: format, orientation: orientation,
                          original: orientation.swapsSides ? (full.1, full.0) : full, policy: policy, name: name)
    }

    private func finish(_ image: DecodedImage, format: ImageFormat, orientation: Orientation, original: (Int, Int),
                        policy: SizePolicy, name: String) throws -> PreparedImage {
        let upright = orientation.apply(image)
        let sized: DecodedImage
        do {
            sized = try policy.apply(upright, with: resampler)
        } catch let e as MixError {
            throw MixError.file(name, e.message)
        }
        return PreparedImage(image: sized, format: format, originalWidth: original.0, originalHeight: original.1, orientation: orientation)
    }

    /// Decodes `bytes` upright at their own size.
    public func decode(_ bytes: UnsafeRawBufferPointer, name: String) throws -> DecodedImage {
        try prepare(bytes, name: name, policy: .asIs).image
    }

    /// The versions of the libraries behind the decoders and the resizer, for the manifest.
    public static var libraryVersions: [String: String] {
        ["libjpeg-turbo": JPEG.libraryVersion, "libpng": PNG.libraryVersion, "libwebp": WebP.libraryVersion,
         "libswscale": Resampler.libraryVersion]
    }

    /// Decoders for several threads: each takes one, uses it, gives it back.
    public final class Pool: @unchecked Sendable {
        private let free = Locked([ImageDecoder]())

        public init() {}

        /// Runs `body` with a decoder no other thread is using.
        public func withDecoder<T>(_ body: (ImageDecoder) throws -> T) throws -> T {
            let decoder = try free.withLock { $0.popLast() } ?? ImageDecoder()
            defer { free.withLock { $0.append(decoder) } }
            return try body(decoder)
        }
    }
}
