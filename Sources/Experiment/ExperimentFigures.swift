import Foundation
import Imaging

/// The experiment report's pictures: accuracy/loss curves of every run (SVG)
/// and the per-arm confusion matrices as heat maps (PNG).
enum ExperimentFigures {
    /// One colour per arm (hex), in arm order.
    static let armColors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]

    static func color(arm index: Int) -> String { armColors[index % armColors.count] }

    /// `accuracy.svg`: test accuracy (left) and test loss (right) per epoch; one
    /// thin line per trial in its arm's colour, a thick line for the arm's mean.
    static func curvesSVG(_ s: ExperimentSummary) -> String {
        let width = 1000.0, height = 440.0
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(Int(width / 2))" y="22" text-anchor="middle" font-size="15">\(escape("\(s.experiment): every run, \(s.epochs) epoch\(s.epochs == 1 ? "" : "s") (thin: one trial, thick: arm mean)"))</text>

        """
        let accs = s.runs.flatMap(\.testAccuracy).map { $0 * 100 }.filter(\.isFinite)
        let acc = axis(accs.min() ?? 0, accs.max() ?? 100, minSpan: 5)
        let losses = s.runs.flatMap(\.testLoss).filter(\.isFinite)
        let loss = axis(losses.min() ?? 0, losses.max() ?? 1, minSpan: 0.05)
        svg += panel(s, x: 70, y: 50, w: 400, h: 320, title: "test accuracy (%)", axis: acc,
                     yFormat: { format($0, step: acc.step) }, values: { $0.testAccuracy.map { $0 * 100 } })
        svg += panel(s, x: 570, y: 50, w: 400, h: 320, title: "test loss", axis: loss,
                     yFormat: { format($0, step: loss.step) }, values: { $0.testLoss })
        // Legend: one entry per arm.
        var lx = 70.0
        for (i, arm) in s.arms.enumerated() {
            let label = "\(arm.name) (\(arm.mixing)), \(arm.finalTestAccuracy.n) trial\(arm.finalTestAccuracy.n == 1 ? "" : "s")"
            svg += "<line x1=\"\(f(lx))\" y1=\"418\" x2=\"\(f(lx + 24))\" y2=\"418\" stroke=\"\(color(arm: i))\" stroke-width=\"3\"/>\n"
            svg += "<text x=\"\(f(lx + 30))\" y=\"422\">\(escape(label))</text>\n"
            lx += 40 + Double(label.count) * 6.6
        }
        return svg + "</svg>\n"
    }

    /// A y axis from `lo` to `hi` in round steps (about five), at least `minSpan` wide.
    static func axis(_ lo: Double, _ hi: Double, minSpan: Double) -> (min: Double, max: Double, step: Double) {
        var (a, b) = (lo, hi)
        if b - a < minSpan {
            let mid = (a + b) / 2
            (a, b) = (mid - minSpan / 2, mid + minSpan / 2)
        }
        let step = niceCeil((b - a) / 5)
        let low = (a / step).rounded(.down) * step
        let high = max(low + step, (b / step).rounded(.up) * step)
        return (low, high, step)
    }

    /// A tick label with as many decimals as the step needs.
    static func format(_ v: Double, step: Double) -> String {
        let decimals = max(0, Int((-log10(step)).rounded(.up)) + (step * pow(10, (-log10(step)).rounded(.up)) == 2.5 ? 1 : 0))
        return String(format: "%.\(min(decimals, 4))f", abs(v) < step / 1e6 ? 0 : v)
    }

    static func panel(_ s: ExperimentSummary, x: Double, y: Double, w: Double, h: Double, title: String,
                      axis: (min: Double, max: Double, step: Double), yFormat: (Double) -> String,
                      values: (RunSummary) -> [Double]) -> String {
        let (yMin, yMax) = (axis.min, axis.max)
        let xMax = Double(max(2, s.epochs))
        func px(_ e: Double) -> Double { s.epochs == 1 ? x + w / 2 : x + (e - 1) / (xMax - 1) * w }
        func py(_ v: Double) -> Double { y + h - (min(max(v, yMin), yMax) - yMin) / (yMax - yMin) * h }
        var out = "<g>\n<text x=\"\(f(x + w / 2))\" y=\"\(f(y - 8))\" text-anchor=\"middle\">\(escape(title))</text>\n"
        out += "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(w))\" height=\"\(f(h))\" fill=\"none\" stroke=\"#333\"/>\n"
        let ticks = Int(((yMax - yMin) / axis.step).rounded())
        for i in 0...ticks {
            let v = yMin + Double(i) * axis.step
            out += "<line x1=\"\(f(x))\" y1=\"\(f(py(v)))\" x2=\"\(f(x + w))\" y2=\"\(f(py(v)))\" stroke=\"#e3e3e3\"/>\n"
            out += "<text x=\"\(f(x - 6))\" y=\"\(f(py(v) + 4))\" text-anchor=\"end\">\(yFormat(v))</text>\n"
        }
        let step = max(1, Int(((xMax - 1) / 10).rounded(.up)))
        var e = 1
        while Double(e) <= Double(max(1, s.epochs)) {
            out += "<line x1=\"\(f(px(Double(e))))\" y1=\"\(f(y + h))\" x2=\"\(f(px(Double(e))))\" y2=\"\(f(y + h + 4))\" stroke=\"#333\"/>\n"
            out += "<text x=\"\(f(px(Double(e))))\" y=\"\(f(y + h + 17))\" text-anchor=\"middle\">\(e)</text>\n"
            e += step
        }
        out += "<text x=\"\(f(x + w / 2))\" y=\"\(f(y + h + 34))\" text-anchor=\"middle\">epoch</text>\n"
        for (i, arm) in s.arms.enumerated() {
            let runs = s.runs.filter { $0.arm == arm.name }
            let c = color(arm: i)
            for r in runs {
                let v = values(r)
                let pts = v.indices.filter { v[$0].isFinite }.map { "\(f(px(Double($0 + 1)))),\(f(py(v[$0])))" }
                if pts.count > 1 {
                    out += "<polyline fill=\"none\" stroke=\"\(c)\" stroke-opacity=\"0.45\" stroke-width=\"1.2\" points=\"\(pts.joined(separator: " "))\"><title>\(escape("\(r.arm) seed \(r.seed)"))</title></polyline>\n"
                }
                for p in pts {
                    let xy = p.split(separator: ",")
                    out += "<circle cx=\"\(xy[0])\" cy=\"\(xy[1])\" r=\"2.5\" fill=\"\(c)\" fill-opacity=\"0.6\"/>\n"
                }
            }
            // The arm's mean over trials, epoch by epoch.
            let n = runs.map { values($0).count }.min() ?? 0
            if n > 1 && runs.count > 1 {
                let mean = (0..<n).map { ep in runs.reduce(0.0) { $0 + values($1)[ep] } / Double(runs.count) }
                let pts = mean.indices.map { "\(f(px(Double($0 + 1)))),\(f(py(mean[$0])))" }
                out += "<polyline fill=\"none\" stroke=\"\(c)\" stroke-width=\"3\" points=\"\(pts.joined(separator: " "))\"><title>\(escape("\(arm.name) mean"))</title></polyline>\n"
            }
        }
        return out + "</g>\n"
    }

    /// Classes up to which `confusion.png` writes counts and names (and the report a table).
    static let maxLabelledClasses = 40

    /// `confusion.png`: per arm, the confusion matrix summed over trials, each
    /// row shaded by its fraction (rows: true class, columns: predicted), counts written in the cells.
    static func confusionImage(_ s: ExperimentSummary) -> RGBImage {
        let k = s.arms.first?.confusion.count ?? 0
        let names = (0..<k).map { $0 < s.classNames.count ? s.classNames[$0] : "class \($0)" }
        let maxCount = s.arms.flatMap { $0.confusion.flatMap { $0 } }.max() ?? 0
        // Up to `maxLabelledClasses` classes, cells carry their counts and the axes their
        // names; above, a heat map of at most about 1,000 pixels a side without text
        // (at 1,000 classes, labelled cells would make an image of 34,000 pixels a side).
        let labelled = k <= maxLabelledClasses
        let cell = labelled ? max(34, BitmapFont.width(of: String(maxCount)) + 8) : max(1, 1000 / max(k, 1))
        let labelWidth = labelled ? (names.map { BitmapFont.width(of: $0) }.max() ?? 0) + 12 : 0
        let short = names.map { String($0.prefix(max(1, (cell - 4) / BitmapFont.advance))) }
        let pad = 16, titleHeight = 30, headerHeight = 16, gap = 36
        let blockWidth = labelWidth + k * cell
        let width = pad * 2 + s.arms.count * blockWidth + max(0, s.arms.count - 1) * gap
        let height = pad * 2 + titleHeight + headerHeight + k * cell + 28
        var image = RGBImage(width: width, height: max(height, 60), background: .white)
        let ink = RGBColor(hex: 0x222222), muted = RGBColor(hex: 0x6B6B6B)
        for (a, arm) in s.arms.enumerated() {
            let x0 = pad + a * (blockWidth + gap)
            let y0 = pad
            let title = "\(arm.name): \(String(format: "%.2f", 100 * arm.finalTestAccuracy.mean))% (\(arm.finalTestAccuracy.n) trial\(arm.finalTestAccuracy.n == 1 ? "" : "s") summed)"
            image.drawText(BitmapFont.truncated(title, toWidth: blockWidth, scale: 2), x: x0, y: y0, color: ink, scale: 2)
            let gridX = x0 + labelWidth, gridY = y0 + titleHeight + headerHeight
            for j in 0..<k where labelled {
                let text = short[j]
                image.drawText(text, x: gridX + j * cell + (cell - BitmapFont.width(of: text)) / 2, y: gridY - 12, color: muted)
            }
            for i in 0..<k {
                if labelled {
                    image.drawText(names[i], x: x0, y: gridY + i * cell + (cell - BitmapFont.glyphHeight) / 2, color: ink)
                }
                let rowTotal = max(1, arm.confusion[i].reduce(0, +))
                for j in 0..<k {
                    let frac = Double(arm.confusion[i][j]) / Double(rowTotal)
                    let fill = heat(frac, diagonal: i == j)
                    image.fillRect(x: gridX + j * cell, y: gridY + i * cell, width: cell, height: cell, fill)
                    guard labelled else { continue }
                    let text = String(arm.confusion[i][j])
                    let textColor = frac > 0.45 ? RGBColor.white : ink
                    image.drawText(text, x: gridX + j * cell + (cell - BitmapFont.width(of: text)) / 2,
                                   y: gridY + i * cell + (cell - BitmapFont.glyphHeight) / 2, color: textColor)
                }
            }
            image.strokeRect(x: gridX - 1, y: gridY - 1, width: k * cell + 2, height: k * cell + 2, RGBColor(hex: 0x999999))
            image.drawText("rows: true class, columns: predicted", x: gridX, y: gridY + k * cell + 10, color: muted)
        }
        return image
    }

    /// White to dark blue (diagonal) or dark red (off-diagonal) by `frac` in [0, 1].
    static func heat(_ frac: Double, diagonal: Bool) -> RGBColor {
        let t = min(1, max(0, frac)).squareRoot()
        let (r, g, b): (Double, Double, Double) = diagonal ? (8, 48, 107) : (165, 15, 21)
        func mix(_ end: Double) -> UInt8 { UInt8((255 + (end - 255) * t).rounded()) }
        return RGBColor(mix(r), mix(g), mix(b))
    }

    static func niceCeil(_ v: Double) -> Double {
        let p = pow(10, floor(log10(v)))
        for m in [1.0, 2, 2.5, 5, 10] where m * p >= v { return m * p }
        return 10 * p
    }

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
