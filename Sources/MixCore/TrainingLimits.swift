/// Upper bounds on training sizes (README, pipeline keys). Far above what the
/// seed CNN needs on the images the format allows; they exist so that a typo, a
/// careless option or a crafted file cannot ask for terabytes. Refused by
/// pipeline validation (`mixprep`), by `mixtrain`'s options and settings, and
/// by checkpoint decoding, each time naming the key.
public enum TrainingLimits {
    /// `train.batch`, `--batch`.
    public static let maxBatch = 4096
    /// Each of `train.widths`.
    public static let maxWidth = 1024
    /// `train.hidden`.
    public static let maxHidden = 8192
    /// Convolution blocks (`train.widths` holds 4; a checkpoint may not claim more than this).
    public static let maxBlocks = 8
    /// Parameters of the whole network (each held four times: weights, gradients, two Adam moments).
    public static let maxParameters = 50_000_000

    /// Why `batch` is not a usable batch size, naming `key`; nil when it is.
    public static func batchProblem(_ batch: Int, key: String) -> String? {
        (1...maxBatch).contains(batch) ? nil : "\(key) must be \(Wording.range(1, maxBatch)) (got \(batch))"
    }
}
