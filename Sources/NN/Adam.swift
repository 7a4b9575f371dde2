import Foundation
import Kernels

/// Adam exactly as `torch.optim.Adam` with its defaults (no amsgrad, single-tensor path),
/// on one flat parameter buffer; with `weightDecay` > 0 it is `torch.optim.AdamW`
/// (decoupled weight decay, Loshchilov & Hutter), which first shrinks every parameter
/// (weights and biases alike, as torch's default parameter group does):
///
///     t += 1
///     p = p · (1 − lr·wd)                 (only when wd > 0; torch: param.mul_(1 − lr·wd))
///     m = m + (g − m)·(1 − β1)            (torch: exp_avg.lerp_(g, 1−β1))
///     v = v·β2 + (1 − β2)·g²
///     denom = √v / √(1 − β2ᵗ) + ε
///     p = p − (lr / (1 − β1ᵗ)) · m / denom
///
/// The state (`m`, `v`, `step`) is public so a checkpoint can restore training exactly.
public struct Adam: Sendable, Equatable {
    /// Hyperparameters are kept in Double, as Python floats are in PyTorch, so derived
    /// constants (1 − β, bias corrections) round exactly as torch's do.
    public var learningRate: Double
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    /// Decoupled (AdamW) weight decay; 0 is plain Adam. `learningRate` is the rate of the
    /// next step (a schedule sets it before each step), and the decay is multiplied by it.
    public var weightDecay: Double = 0
    /// First-moment estimate, one entry per parameter.
    public var m: [Float]
    /// Second-moment estimate, one entry per parameter.
    public var v: [Float]
    /// Number of updates taken so far (torch's `state['step']`).
    public var step: Int

    public init(parameterCount: Int, learningRate: Double = 1e-3, beta1: Double = 0.9,
                beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0) {
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.m = [Float](repeating: 0, count: parameterCount)
        self.v = [Float](repeating: 0, count: parameterCount)
        self.step = 0
    }

    /// One update of `parameters` from `gradients` (both `m.count` long).
    public mutating func step(parameters p: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>) {
        step += 1
        let t = Double(step)
        let bc1 = 1 - pow(beta1, t)
        let bc2 = 1 - pow(beta2, t)
        let coefficients = AdamCoefficients(w1: Float(1 - beta1), beta2: Float(beta2), w2: Float(1 - beta2),
                                            bc2Sqrt: Float(bc2.squareRoot()), epsilon: Float(epsilon),
                                            stepSize: Float(learningRate / bc1),
                                            decay: weightDecay != 0 ? Float(1 - learningRate * weightDecay) : nil)
        let n = m.count
        m.withUnsafeMutableBufferPointer { mb in
            v.withUnsafeMutableBufferPointer { vb in
                adamUpdate(parameters: p, gradients: g, m: mb.baseAddress!, v: vb.baseAddress!, count: n, coefficients)
            }
        }
    }

    /// One update of a network's parameters from its current gradients.
    public mutating func step(_ model: SeedCNN) {
        precondition(model.parameterCount == m.count, "Adam: parameter count mismatch")
        step(parameters: model.parameterPointer, gradients: UnsafePointer(model.gradientPointer))
    }
}
