/// The fuzzer's random numbers: SplitMix64, seeded per (run seed, target, case),
/// so every case is reproducible on its own — `mixfuzz replay --target T --seed S
/// --case N` regenerates exactly the input case N of that run saw.
public struct FuzzRNG: Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    /// The generator of case `caseNumber` of `target` in a run seeded `seed`.
    public init(seed: UInt64, target: String, case caseNumber: UInt64) {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a of the target name
        for b in target.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        var mix = FuzzRNG(seed: seed ^ h)
        let a = mix.next()
        state = a ^ (caseNumber &* 0x9E37_79B9_7F4A_7C15)
        _ = next()
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `0..<n` (n ≥ 1).
    public mutating func below(_ n: Int) -> Int {
        precondition(n > 0, "FuzzRNG.below needs n > 0")
        return Int(next() % UInt64(n))
    }

    /// Uniform in `range`.
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + below(range.upperBound - range.lowerBound + 1)
    }

    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool {
        Double(next() >> 11) * 0x1.0p-53 < p
    }

    public mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }

    public mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }

    /// A small count, biased to 1: 1 with probability 1/2, 2 with 1/4, …, at most `max`.
    public mutating func smallCount(max: Int) -> Int {
        var n = 1
        while n < max && chance(0.5) { n += 1 }
        return n
    }
}
