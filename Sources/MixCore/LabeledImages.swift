/// A split of an image dataset in memory: `count` images of `channels × height
/// × width` bytes (planar: sample, plane, row) and one class index per image.
public struct LabeledImages: Sendable, Equatable {
    public var channels: Int
    public var height: Int
    public var width: Int
    public var images: [UInt8]
    public var labels: [Int32]

    public init(channels: Int, height: Int, width: Int, images: [UInt8] = [], labels: [Int32] = []) {
        self.channels = channels
        self.height = height
        self.width = width
        self.images = images
        self.labels = labels
    }

    public var count: Int { labels.count }
    public var imageBytes: Int { channels * height * width }

    /// The bytes of image `i`.
    public func image(_ i: Int) -> ArraySlice<UInt8> {
        images[(i * imageBytes)..<((i + 1) * imageBytes)]
    }

    /// The first `n` images (or all of them when there are fewer).
    public func prefix(_ n: Int) -> LabeledImages {
        let m = Swift.min(n, count)
        return LabeledImages(channels: channels, height: height, width: width,
                             images: Array(images[0..<(m * imageBytes)]), labels: Array(labels[0..<m]))
    }
}
