import Foundation
import NN
import TestSupport
import XCTest

/// ⟨a, b⟩ in Double.
func dot(_ a: [Float], _ b: [Float]) -> Double {
    zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) }
}

/// Central finite differences of `loss` w.r.t. every (or every `stride`-th) element of
/// `x`, compared with `analytic`. Tolerance: |fd − an| ≤ atol + rtol·|an|.
func checkGradient(_ name: String, _ x: inout [Float], analytic: [Float], eps: Float = 1e-2,
                   atol: Float = 2e-3, rtol: Float = 2e-2, stride: Int = 1,
                   file: StaticString = #filePath, line: UInt = #line,
                   loss: ([Float]) -> Double) {
    XCTAssertEqual(x.count, analytic.count, name, file: file, line: line)
    var failures = 0
    var i = 0
    while i < x.count {
        let orig = x[i]
        x[i] = orig + eps
        let lp = loss(x)
        x[i] = orig - eps
        let lm = loss(x)
        x[i] = orig
        let fd = Float((lp - lm) / (2 * Double(eps)))
        if abs(fd - analytic[i]) > atol + rtol * abs(analytic[i]) {
            failures += 1
            if failures <= 5 {
                XCTFail("\(name)[\(i)]: finite difference \(fd) vs analytic \(analytic[i])", file: file, line: line)
            }
        }
        i += stride
    }
}

func assertClose(_ a: [Float], _ b: [Float], tol: Float, _ msg: String = "",
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, msg, file: file, line: line)
    var worst: Float = 0, at = 0
    for i in 0..<min(a.count, b.count) {
        let d = abs(a[i] - b[i]) / max(1, abs(b[i]))
        if d > worst { worst = d; at = i }
    }
    XCTAssertLessThanOrEqual(worst, tol, "\(msg): worst relative error \(worst) at \(at)", file: file, line: line)
}

/// The seed CNN's mean soft-target loss computed naively in Double, straight from DESIGN's
/// definition (PyTorch's modules): per block conv3×3 (pad 1) + bias, ReLU, 2×2 max-pool, on
/// `config.inputHeight`×`config.inputWidth` NCHW images; `x.flatten(1)`; fc1, ReLU, fc2;
/// −Σ y·log softmax(z), averaged. `params` is the flat buffer in `SeedCNN`'s layout. Slow and
/// obviously right: with Double, finite differences can take steps (1e-6) far smaller than the
/// distance to any ReLU or pooling kink, which float32 cannot.
func referenceLoss(_ config: CNNConfig, params: [Double], input: [Float], targets: [Float], batch B: Int) -> Double {
    var offset = 0
    func take(_ n: Int) -> ArraySlice<Double> {
        defer { offset += n }
        return params[offset..<(offset + n)]
    }
    var cin = config.inputChannels, h = config.inputHeight, w = config.inputWidth
    var act: [Double] = input.map(Double.init)  // [B, C, H, W]
    for cout in config.widths {
        let weight = Array(take(cout * cin * 9)), bias = Array(take(cout))
        let oh = h / 2, ow = w / 2
        var pooled = [Double](repeating: 0, count: B * cout * oh * ow)
        var conv = [Double](repeating: 0, count: h * w)
        for b in 0..<B {
            for co in 0..<cout {
                for y in 0..<h {
                    for x in 0..<w {
                        var acc: Double = bias[co]
                        for ci in 0..<cin {
                            for ky in 0..<3 where y + ky >= 1 && y + ky <= h {
                                for kx in 0..<3 where x + kx >= 1 && x + kx <= w {
                                    let a: Double = act[((b * cin + ci) * h + y + ky - 1) * w + x + kx - 1]
                                    let k: Double = weight[((co * cin + ci) * 3 + ky) * 3 + kx]
                                    acc += a * k
                                }
                            }
                        }
                        conv[y * w + x] = max(acc, 0)
                    }
                }
                for y in 0..<oh {
                    for x in 0..<ow {
                        let top = max(conv[2 * y * w + 2 * x], conv[2 * y * w + 2 * x + 1])
                        let bottom = max(conv[(2 * y + 1) * w + 2 * x], conv[(2 * y + 1) * w + 2 * x + 1])
                        pooled[((b * cout + co) * oh + y) * ow + x] = max(top, bottom)
                    }
                }
            }
        }
        act = pooled
        cin = cout
        h = oh
        w = ow
    }
    let F = cin * h * w, Hd = config.hidden, K = config.classes
    let w1 = Array(take(Hd * F)), b1 = Array(take(Hd)), w2 = Array(take(K * Hd)), b2 = Array(take(K))
    var total = 0.0
    for b in 0..<B {
        var hidden = [Double](repeating: 0, count: Hd)
        for j in 0..<Hd {
            var acc: Double = b1[j]
            for f in 0..<F { acc += w1[j * F + f] * act[b * F + f] }
            hidden[j] = max(acc, 0)
        }
        var z = [Double](repeating: 0, count: K)
        for k in 0..<K {
            var acc: Double = b2[k]
            for j in 0..<Hd { acc += w2[k * Hd + j] * hidden[j] }
            z[k] = acc
        }
        let m = z.max()!
        var sum = 0.0
        for k in 0..<K { sum += exp(z[k] - m) }
        let lse = m + log(sum)
        for k in 0..<K { total -= Double(targets[b * K + k]) * (z[k] - lse) }
    }
    return total / Double(B)
}
