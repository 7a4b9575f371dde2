#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MixCore

/// torchvision's ten box attempts, shared by `RandomResizedCrop` and `RandomErasing`
/// (DESIGN.md, "The draws of an epoch, exactly"): each attempt draws a target area
/// `area · (lo + (hi − lo) · uniform())` from `scale` and an aspect
/// `exp(log lo + (log hi − log lo) · uniform())` from `ratio`, and gives the two sides
/// `√(target · aspect)` and `√(target / aspect)` rounded half to even. All ten are drawn
/// whatever fits, so the draws that follow never move; which side is the width, and what
/// fits, is the caller's (the two transforms differ in both).
enum BoxAttempts {
    /// The ten attempts' sides (`√(target · aspect)`, `√(target / aspect)`), rounded, in draw order.
    static func draw(_ rng: inout CounterRNG, area: Double, scale: [Double], ratio: [Double]) -> [(Int, Int)] {
        let logLo = log(ratio[0]), logHi = log(ratio[1])
        return (0..<10).map { _ in
            let target = area * (scale[0] + (scale[1] - scale[0]) * rng.uniform())
            let aspect = exp(logLo + (logHi - logLo) * rng.uniform())
            return (Int((target * aspect).squareRoot().rounded(.toNearestOrEven)),
                    Int((target / aspect).squareRoot().rounded(.toNearestOrEven)))
        }
    }
}
