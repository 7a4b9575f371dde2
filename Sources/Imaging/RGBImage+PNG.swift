import ImageCodecs
import MixCore

extension PNG {
    /// Encodes `image` as an 8-bit RGB PNG.
    public static func encode(_ image: RGBImage) throws -> [UInt8] {
        try encodeInterleaved(image.pixels, width: image.width, height: image.height, channels: 3,
                              name: "<RGB image \(image.width)×\(image.height)>")
    }

    /// Writes `image` to `path` as a PNG, atomically (temporary file, fsync, rename).
    public static func write(_ image: RGBImage, to path: String) throws {
        let bytes: [UInt8]
        do {
            bytes = try encode(image)
        } catch let error as MixError {
            throw MixError.file(path, error.message)
        }
        try FileIO.writeAtomically(path, bytes)
    }
}
