/// Gamma and Beta draws on a `CounterRNG`.
extension CounterRNG {
    /// log of a Gamma(shape, 1) draw.
    ///
    /// Marsaglia & Tsang (2000) for shape ≥ 1; for shape < 1 the boost
    /// Gamma(a) = Gamma(a + 1) · U^(1/a), kept in log space so tiny values
    /// (common for a = 0.2) never underflow.
    public mutating func logGamma(shape a: Double) -> Double {
        precondition(a > 0, "Gamma shape must be > 0")
        if a < 1 {
            let boosted = logGamma(shape: a + 1)
            return boosted + _log(uniformPositive()) / a
        }
        let d = a - 1.0 / 3.0
        let c = 1.0 / (9.0 * d).squareRoot()
        while true {
            var x: Double
            var v: Double
            repeat {
                x = normal()
                v = 1 + c * x
            } while v <= 0
            v = v * v * v
            let u = uniformPositive()
            let x2 = x * x
            if u < 1 - 0.0331 * x2 * x2 { return _log(d * v) }
            if _log(u) < 0.5 * x2 + d * (1 - v + _log(v)) { return _log(d * v) }
        }
    }

    /// A Gamma(shape, 1) draw.
    public mutating func gamma(shape a: Double) -> Double {
        _exp(logGamma(shape: a))
    }

    /// A Beta(a, b) draw as X / (X + Y), X ~ Gamma(a), Y ~ Gamma(b).
    ///
    /// In [0, 1] for the shapes pipelines accept (`MixConfig.minAlpha` to `maxAlpha`,
    /// 0.001 to 1,000,000, where tests check it against the exact CDF); shapes below
    /// about 1e-307 overflow the log-space boost and give NaN, so callers validate first.
    public mutating func beta(_ a: Double, _ b: Double) -> Double {
        let lx = logGamma(shape: a)
        let ly = logGamma(shape: b)
        // X / (X + Y) = 1 / (1 + exp(ly - lx)), stable for extreme values.
        return 1 / (1 + _exp(ly - lx))
    }
}
