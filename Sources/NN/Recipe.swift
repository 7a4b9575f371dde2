import Foundation
import Kernels

/// The learning rate at each optimizer step (DESIGN.md, "Training contract").
///
/// Steps are counted from 0 over the whole run (`s` = updates already taken); an epoch is
/// `stepsPerEpoch` steps. With base rate `lr`:
///
/// - constant: `lr(s) = lr`
/// - step: `lr(s) = lr · γ^⌊s / (stepEpochs · stepsPerEpoch)⌋` (`torch.optim.lr_scheduler.StepLR`
///   stepped per epoch, counted in steps)
/// - cosine, with `W = warmupEpochs · stepsPerEpoch` and `T = epochs · stepsPerEpoch`:
///   `lr(s) = lr · (s + 1) / W` for `s < W` (linear warm-up from `lr/W` up to `lr` at step
///   `W − 1`), then `lr(s) = minLR + (lr − minLR) · (1 + cos(π · (s − W) / (T − W))) / 2`
///   (`CosineAnnealingLR` with `T_max = T − W`, `eta_min = minLR`, closed form).
///
/// Computed in Double; `Adam` rounds what it derives from it to Float.
public enum LRSchedule: Sendable, Equatable, Codable {
    case constant
    case step(everyEpochs: Int, gamma: Double)
    case cosine(warmupEpochs: Int, minLR: Double)

    /// The learning rate of the step taken after `s` updates (`s` ≥ 0).
    public func rate(base lr: Double, step s: Int, stepsPerEpoch: Int, epochs: Int) -> Double {
        switch self {
        case .constant:
            return lr
        case let .step(every, gamma):
            return lr * pow(gamma, Double(s / max(1, every * stepsPerEpoch)))
        case let .cosine(warmup, minLR):
            let w = warmup * stepsPerEpoch, t = epochs * stepsPerEpoch
            if s < w { return lr * Double(s + 1) / Double(w) }
            let progress = min(1, Double(s - w) / Double(max(1, t - w)))
            return minLR + (lr - minLR) * (1 + cos(Double.pi * progress)) / 2
        }
    }
}

/// An exponential moving average of the weights, as timm's `ModelEmaV2` keeps it: a copy of
/// the parameters made when training starts, then after every optimizer step
///
///     e = e + (1 − d) · (p − e)          (torch: ema.lerp_(p, 1 − d))
///
/// in Float with `w = 1 − d` rounded once to Float, and, as torch's lerp does for
/// `w` ≥ 0.5, as `p − (p − e) · (1 − w)` then. No warm-up of the decay.
public struct WeightEMA: Sendable, Equatable {
    /// The decay `d`, in (0, 1).
    public var decay: Double
    /// The averaged parameters, `SeedCNN` order.
    public var values: [Float]

    /// Starts the average at `parameters`.
    public init(decay: Double, parameters: [Float]) {
        self.decay = decay
        self.values = parameters
    }

    /// One update from the current parameters `p` (`values.count` long).
    public mutating func update(from p: UnsafePointer<Float>) {
        let w = Float(1 - decay), n = values.count
        values.withUnsafeMutableBufferPointer { eb in
            let e = eb.baseAddress!
            parallelChunks(n, minChunk: 1 << 15) { r in
                if w < 0.5 {
                    for i in r { e[i] = e[i] + w * (p[i] - e[i]) }
                } else {
                    let v = 1 - w
                    for i in r { e[i] = p[i] - (p[i] - e[i]) * v }
                }
            }
        }
    }

    /// One update from a network's current parameters.
    public mutating func update(from model: SeedCNN) {
        precondition(model.parameterCount == values.count, "WeightEMA: parameter count mismatch")
        update(from: UnsafePointer(model.parameterPointer))
    }
}
