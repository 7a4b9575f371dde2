import MixCore
import NN

/// Test-split results: mean loss, accuracy and the confusion matrix.
public struct Evaluation: Sendable, Equatable {
    /// Samples evaluated.
    public var count: Int
    /// Mean soft-target cross-entropy.
    public var loss: Double
    /// Fraction whose predicted class (argmax of the logits) equals the label's argmax.
    public var accuracy: Double
    /// `confusion[true][predicted]` counts.
    public var confusion: [[Int]]

    /// Evaluates `model` on the loader's test split (in file order), reporting to `progress` if given.
    public static func run(model: SeedCNN, loader: ShardLoader, progress: Progress? = nil) throws -> Evaluation {
        let k = loader.directory.shape.classCount
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
        var lossSum = 0.0
        var count = 0
        let stream = loader.testBatches()
        while let batch = try stream.next() {
            let n = batch.count
            let logits = batch.images.withUnsafeBufferPointer { model.logits(input: $0.baseAddress!, batch: n) }
            let r = logits.withUnsafeBufferPointer { z in
                batch.labels.withUnsafeBufferPointer { y in
                    SoftTargetCrossEntropy.evaluate(logits: z.baseAddress!, targets: y.baseAddress!, batch: n, classes: k)
                }
            }
            lossSum += r.lossSum
            for i in 0..<n {
                var best = 0
                for j in 1..<k where logits[i * k + j] > logits[i * k + best] { best = j }
                confusion[batch.labelClass(i, classCount: k)][best] += 1
            }
            count += n
            progress?.advance(by: n)
            stream.recycle(batch)
        }
        progress?.finish()
        guard count > 0 else { throw MixError.file(loader.directory.path, "no test sample could be read") }
        let correct = (0..<k).reduce(0) { $0 + confusion[$1][$1] }
        return Evaluation(count: count, loss: lossSum / Double(count), accuracy: Double(correct) / Double(count),
                          confusion: confusion)
    }

    /// The accuracy line and the confusion matrix as text, rows = true class,
    /// columns = predicted class, with class names.
    public func table(classNames: [String]) -> String {
        let k = confusion.count
        let names = (0..<k).map { $0 < classNames.count ? classNames[$0] : "class \($0)" }
        let nameWidth = max(10, names.map(\.count).max() ?? 0)
        let cell = max(6, String(confusion.flatMap { $0 }.max() ?? 0).count + 1)
        func pad(_ s: String, _ w: Int, left: Bool = false) -> String {
            let p = String(repeating: " ", count: max(0, w - s.count))
            return left ? s + p : p + s
        }
        var out = "accuracy: \(fmt(100 * accuracy, 2))% (\(confusion.indices.reduce(0) { $0 + confusion[$1][$1] })/\(count)), loss \(fmt(loss, 4))\n"
        out += "confusion matrix (rows: true class, columns: predicted)\n"
        out += pad("", nameWidth, left: true) + (0..<k).map { pad(String(names[$0].prefix(cell - 1)), cell) }.joined() + "\n"
        for i in 0..<k {
            out += pad(names[i], nameWidth, left: true) + confusion[i].map { pad(String($0), cell) }.joined() + "\n"
        }
        return out
    }
}
