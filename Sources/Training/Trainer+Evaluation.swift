import MixCore
import NN

/// Test-split results: mean loss, accuracy, per-class counts and (up to
/// `maxConfusionClasses` classes) the confusion matrix.
public struct Evaluation: Sendable, Equatable {
    /// The confusion matrix is kept up to this many classes (8 MB of counts); above
    /// it, K² counts would take gigabytes (3.8 GB at ImageNet-21k's 21,841 classes,
    /// every epoch), so only the per-class counts are kept.
    public static let maxConfusionClasses = 1024
    /// `table` prints the matrix up to this many classes, per-class accuracies above.
    public static let maxPrintedClasses = 100
    /// Samples evaluated.
    public var count: Int
    /// Mean soft-target cross-entropy.
    public var loss: Double
    /// Fraction whose predicted class (argmax of the logits) equals the label's argmax.
    public var accuracy: Double
    /// `confusion[true][predicted]` counts; empty above `maxConfusionClasses` classes.
    public var confusion: [[Int]]
    /// Test samples of each true class.
    public var classTotals: [Int]
    /// Correctly predicted samples of each true class.
    public var classCorrect: [Int]

    public init(count: Int, loss: Double, accuracy: Double, confusion: [[Int]],
                classTotals: [Int]? = nil, classCorrect: [Int]? = nil) {
        self.count = count
        self.loss = loss
        self.accuracy = accuracy
        self.confusion = confusion
        self.classTotals = classTotals ?? confusion.map { $0.reduce(0, +) }
        self.classCorrect = classCorrect ?? confusion.indices.map { confusion[$0][$0] }
    }

    /// Evaluates `model` on the loader's test split (in file order), reporting to `progress` if given.
    public static func run(model: SeedCNN, loader: ShardLoader, progress: Progress? = nil) throws -> Evaluation {
        let k = loader.directory.shape.classCount
        let keepMatrix = k <= maxConfusionClasses
        var confusion = keepMatrix ? [[Int]](repeating: [Int](repeating: 0, count: k), count: k) : []
        var totals = [Int](repeating: 0, count: k), correct = [Int](repeating: 0, count: k)
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
                let truth = batch.labelClass(i, classCount: k)
                if keepMatrix { confusion[truth][best] += 1 }
                totals[truth] += 1
                if best == truth { correct[truth] += 1 }
            }
            count += n
            progress?.advance(by: n)
            stream.recycle(batch)
        }
        progress?.finish()
        guard count > 0 else { throw MixError.file(loader.directory.path, "no test sample could be read") }
        return Evaluation(count: count, loss: lossSum / Double(count),
                          accuracy: Double(correct.reduce(0, +)) / Double(count),
                          confusion: confusion, classTotals: totals, classCorrect: correct)
    }

    /// The accuracy line and the confusion matrix as text, rows = true class,
    /// columns = predicted class, with class names; above `maxPrintedClasses`
    /// classes, the ten classes of lowest and of highest accuracy instead.
    public func table(classNames: [String]) -> String {
        let k = classTotals.count
        let names = (0..<k).map { $0 < classNames.count ? classNames[$0] : "class \($0)" }
        var out = "accuracy: \(fmt(100 * accuracy, 2))% (\(classCorrect.reduce(0, +))/\(count)), loss \(fmt(loss, 4))\n"
        guard k <= Self.maxPrintedClasses, confusion.count == k else {
            // Classes without test samples have no accuracy; ties keep class order.
            func accuracy(_ c: Int) -> Double { Double(classCorrect[c]) / Double(classTotals[c]) }
            let ranked: [Int] = (0..<k).filter { classTotals[$0] > 0 }.sorted { a, b in
                let x = accuracy(a), y = accuracy(b)
                return x != y ? x < y : a < b
            }
            func line(_ c: Int) -> String {
                "  \(names[c]): \(fmt(100 * accuracy(c), 1))% (\(classCorrect[c])/\(classTotals[c]))\n"
            }
            out += "\(k) classes (\(ranked.count) with test samples): the confusion matrix is printed up to "
                + "\(Self.maxPrintedClasses) classes\n"
            out += "lowest accuracy:\n" + ranked.prefix(10).map(line).joined()
            out += "highest accuracy:\n" + ranked.suffix(10).reversed().map(line).joined()
            return out
        }
        let nameWidth = max(10, names.map(\.count).max() ?? 0)
        let cell = max(6, String(confusion.flatMap { $0 }.max() ?? 0).count + 1)
        func pad(_ s: String, _ w: Int, left: Bool = false) -> String {
            let p = String(repeating: " ", count: max(0, w - s.count))
            return left ? s + p : p + s
        }
        out += "confusion matrix (rows: true class, columns: predicted)\n"
        out += pad("", nameWidth, left: true) + (0..<k).map { pad(String(names[$0].prefix(cell - 1)), cell) }.joined() + "\n"
        for i in 0..<k {
            out += pad(names[i], nameWidth, left: true) + confusion[i].map { pad(String($0), cell) }.joined() + "\n"
        }
        return out
    }
}
