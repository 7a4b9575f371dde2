import Foundation

/// What one epoch of training measured.
public struct EpochMetrics: Sendable, Equatable, Codable {
    /// 1-based epoch number.
    public var epoch: Int
    /// Mean soft-target cross-entropy over the epoch's training samples.
    public var trainLoss: Double
    /// Mean cross-entropy over the test split.
    public var testLoss: Double
    /// Fraction of test samples whose predicted class is the argmax of their label.
    public var testAccuracy: Double
    /// Training images per second (training steps only, loader included).
    public var imagesPerSecond: Double
    /// Wall seconds of the whole epoch (training and evaluation).
    public var seconds: Double
    /// Seconds of the training pass spent waiting for the loader's next batch
    /// (nil in checkpoints written before it was measured).
    public var loaderSeconds: Double?
    /// Seconds of the test evaluation (nil in checkpoints written before it was measured).
    public var evalSeconds: Double?
    /// Threads the epoch trained with (nil in checkpoints written before it was
    /// recorded). Since mixshards 0.2 it changes the speed only, never a number; before
    /// that, float sums depended on it.
    public var threads: Int?
    /// The OpenBLAS kernel the epoch ran on, with where the choice came from
    /// (`Zen (chosen by mixshards for this CPU)`); nil in older checkpoints.
    public var blasKernel: String?
    /// The learning rate of the epoch's last optimizer step (nil in checkpoints written
    /// before the recipe existed, which all trained at the constant `train.lr`).
    public var lr: Double?

    public init(epoch: Int, trainLoss: Double, testLoss: Double, testAccuracy: Double,
                imagesPerSecond: Double, seconds: Double, loaderSeconds: Double? = nil, evalSeconds: Double? = nil,
                threads: Int? = nil, blasKernel: String? = nil, lr: Double? = nil) {
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.testLoss = testLoss
        self.testAccuracy = testAccuracy
        self.imagesPerSecond = imagesPerSecond
        self.seconds = seconds
        self.loaderSeconds = loaderSeconds
        self.evalSeconds = evalSeconds
        self.threads = threads
        self.blasKernel = blasKernel
        self.lr = lr
    }
}

/// The run directory's text outputs: `metrics.csv`, `curves.svg`, `report.md`.
public enum RunOutputs {
    /// `metrics.csv`: a header and one row per epoch. `lr` (last, so readers by position keep
    /// working) is the rate of the epoch's last step, `%.6g`; empty when unrecorded.
    public static func csv(_ metrics: [EpochMetrics]) -> String {
        var out = "epoch,train_loss,test_loss,test_acc,images_per_s,seconds,threads,blas_kernel,lr\n"
        for m in metrics {
            let kernel = m.blasKernel.map(kernelName) ?? ""
            out += "\(m.epoch),\(fmt(m.trainLoss, 6)),\(fmt(m.testLoss, 6)),\(fmt(m.testAccuracy, 6)),"
                + "\(fmt(m.imagesPerSecond, 1)),\(fmt(m.seconds, 3)),\(m.threads.map(String.init) ?? ""),\(kernel),"
                + "\(m.lr.map { String(format: "%.6g", $0) } ?? "")\n"
        }
        return out
    }

    /// The kernel family of a recorded kernel description: `Zen` of
    /// `Zen (chosen by mixshards for this CPU)`.
    public static func kernelName(_ description: String) -> String {
        description.split(separator: " ").first.map(String.init) ?? description
    }

    /// A per-epoch value by stretches of epochs: `1`, or `2 (1–2), 1 (3–30)`, with `—`
    /// where unrecorded (threads in `report.md` and the experiment report).
    public static func byStretches(_ perEpoch: [Int?]) -> String {
        var stretches: [(value: Int?, first: Int, last: Int)] = []
        for (i, v) in perEpoch.enumerated() {
            if let s = stretches.last, s.value == v {
                stretches[stretches.count - 1].last = i + 1
            } else {
                stretches.append((v, i + 1, i + 1))
            }
        }
        func name(_ v: Int?) -> String { v.map(String.init) ?? "—" }
        if stretches.count == 1 { return name(stretches[0].value) }
        return stretches.map { s in
            "\(name(s.value)) (\(s.first == s.last ? "\(s.first)" : "\(s.first)–\(s.last)"))"
        }.joined(separator: ", ")
    }

    /// `curves.svg`: train/test loss (left panel) and test accuracy (right panel) against epoch.
    public static func svg(_ metrics: [EpochMetrics], title: String) -> String {
        let width = 960.0, height = 420.0
        var s = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(Int(width / 2))" y="22" text-anchor="middle" font-size="15">\(escape(title))</text>

        """
        let epochs = metrics.map { Double($0.epoch) }
        let losses = metrics.flatMap { [$0.trainLoss, $0.testLoss] }.filter(\.isFinite)
        let lossMax = niceCeil(max(losses.max() ?? 1, 1e-6))
        s += panel(x: 60, y: 40, w: 380, h: 320, title: "loss", xs: epochs, yMin: 0, yMax: lossMax, yFormat: { fmt($0, 2) },
                   series: [("train", "#1f77b4", metrics.map(\.trainLoss)), ("test", "#d62728", metrics.map(\.testLoss))])
        s += panel(x: 540, y: 40, w: 380, h: 320, title: "test accuracy", xs: epochs, yMin: 0, yMax: 1,
                   yFormat: { "\(Int(($0 * 100).rounded()))%" }, legendAtBottom: true,
                   series: [("test accuracy", "#2ca02c", metrics.map(\.testAccuracy))])
        s += "</svg>\n"
        return s
    }

    /// One plot panel with axes, ticks, gridlines, polylines, markers and a legend.
    static func panel(x: Double, y: Double, w: Double, h: Double, title: String, xs: [Double],
                      yMin: Double, yMax: Double, yFormat: (Double) -> String, legendAtBottom: Bool = false,
                      series: [(name: String, color: String, values: [Double])]) -> String {
        let xMin = 1.0, xMax = max(2.0, xs.max() ?? 2)
        func px(_ v: Double) -> Double { x + (v - xMin) / (xMax - xMin) * w }
        func py(_ v: Double) -> Double { y + h - (min(max(v, yMin), yMax) - yMin) / (yMax - yMin) * h }
        var s = "<g>\n<text x=\"\(f(x + w / 2))\" y=\"\(f(y - 6))\" text-anchor=\"middle\">\(escape(title))</text>\n"
        s += "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(w))\" height=\"\(f(h))\" fill=\"none\" stroke=\"#333\"/>\n"
        for i in 0...5 {
            let v = yMin + (yMax - yMin) * Double(i) / 5
            s += "<line x1=\"\(f(x))\" y1=\"\(f(py(v)))\" x2=\"\(f(x + w))\" y2=\"\(f(py(v)))\" stroke=\"#ddd\"/>\n"
            s += "<text x=\"\(f(x - 6))\" y=\"\(f(py(v) + 4))\" text-anchor=\"end\">\(yFormat(v))</text>\n"
        }
        let step = max(1, Int((xMax - xMin) / 8 + 0.999))
        var e = 1
        while Double(e) <= xMax {
            s += "<line x1=\"\(f(px(Double(e))))\" y1=\"\(f(y + h))\" x2=\"\(f(px(Double(e))))\" y2=\"\(f(y + h + 4))\" stroke=\"#333\"/>\n"
            s += "<text x=\"\(f(px(Double(e))))\" y=\"\(f(y + h + 17))\" text-anchor=\"middle\">\(e)</text>\n"
            e += step
        }
        s += "<text x=\"\(f(x + w / 2))\" y=\"\(f(y + h + 34))\" text-anchor=\"middle\">epoch</text>\n"
        for (n, line) in series.enumerated() {
            let points = zip(xs, line.values).filter { $0.1.isFinite }
            if !points.isEmpty {
                let pts = points.map { "\(f(px($0.0))),\(f(py($0.1)))" }.joined(separator: " ")
                s += "<polyline fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"2\" points=\"\(pts)\"/>\n"
                for p in points {
                    s += "<circle cx=\"\(f(px(p.0)))\" cy=\"\(f(py(p.1)))\" r=\"3\" fill=\"\(line.color)\"/>\n"
                }
            }
            let ly = legendAtBottom ? y + h - 10 - Double(series.count - 1 - n) * 16 : y + 16 + Double(n) * 16
            s += "<line x1=\"\(f(x + w - 120))\" y1=\"\(f(ly - 4))\" x2=\"\(f(x + w - 100))\" y2=\"\(f(ly - 4))\" stroke=\"\(line.color)\" stroke-width=\"2\"/>\n"
            s += "<text x=\"\(f(x + w - 95))\" y=\"\(f(ly))\">\(escape(line.name))</text>\n"
        }
        return s + "</g>\n"
    }

    /// The smallest of 1, 2, 2.5, 5 × 10^k that is ≥ v.
    static func niceCeil(_ v: Double) -> Double {
        let p = pow(10, floor(log10(v)))
        for m in [1.0, 2, 2.5, 5, 10] where m * p >= v { return m * p }
        return 10 * p
    }

    static func f(_ v: Double) -> String { fmt(v, 1) }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

/// `value` with `digits` decimals (C locale).
func fmt(_ value: Double, _ digits: Int) -> String {
    String(format: "%.\(digits)f", value)
}
