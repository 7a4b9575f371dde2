/// Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11).
///
/// Every stream is a pure function of `(seed, stream, epoch, position)`, so any
/// sample's random draws can be recomputed independently of thread count,
/// worker split or resume point. Library code never touches the system RNG.

/// Distinct purposes get distinct streams, so adding draws to one never shifts another.
public enum RNGStream: UInt32, Sendable {
    case order = 1      // epoch permutation
    case sample = 2     // per-position mixing decisions
    case block = 3      // per-block decisions (batch mode)
    case shuffle = 4    // loader chunk order, training-side shuffles
    case initialise = 5 // network initialisation
    case augment = 6    // per-position geometric transforms (crop offsets, flips)
    case split = 7      // the held-out test split of a single folder of classes (dataset.test_fraction)
    case resizedCrop = 8   // per-position random_resized_crop boxes (primary, partner)
    case colorJitter = 9   // per-position color_jitter orders and factors (primary, partner)
    case policy = 10       // per-position trivial_augment / rand_augment ops (primary, partner)
    case erasing = 11      // per-position random_erasing decision and box
    case erasingValues = 12 // per-position random_erasing fill bytes (value = "random")
    case test = 99      // tests
}

/// Philox4x32 with 10 rounds: a bijective keyed block function on 128-bit counters.
@inlinable
public func philox4x32(_ counter: (UInt32, UInt32, UInt32, UInt32), key: (UInt32, UInt32))
    -> (UInt32, UInt32, UInt32, UInt32)
{
    var (c0, c1, c2, c3) = counter
    var (k0, k1) = key
    for _ in 0..<10 {
        let p0 = UInt64(0xD251_1F53) &* UInt64(c0)
        let p1 = UInt64(0xCD9E_8D57) &* UInt64(c2)
        let n0 = UInt32(truncatingIfNeeded: p1 >> 32) ^ c1 ^ k0
        let n1 = UInt32(truncatingIfNeeded: p1)
        let n2 = UInt32(truncatingIfNeeded: p0 >> 32) ^ c3 ^ k1
        let n3 = UInt32(truncatingIfNeeded: p0)
        (c0, c1, c2, c3) = (n0, n1, n2, n3)
        k0 = k0 &+ 0x9E37_79B9
        k1 = k1 &+ 0xBB67_AE85
    }
    return (c0, c1, c2, c3)
}

/// A random stream keyed by `(seed, stream, epoch, position)`.
///
/// Word `n` of the stream is word `n % 4` of Philox(counter: (n / 4, position,
/// epoch, stream), key: seed). Conforms to `RandomNumberGenerator`, but the
/// project's own draws use `uniform()` / `uniformInt(below:)` whose algorithms
/// are fixed here, not in the standard library.
public struct CounterRNG: RandomNumberGenerator, Sendable {
    @usableFromInline let key: (UInt32, UInt32)
    @usableFromInline let position: UInt32
    @usableFromInline let epoch: UInt32
    @usableFromInline let stream: UInt32
    @usableFromInline var block: UInt32 = 0
    @usableFromInline var buffer: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
    @usableFromInline var used: Int = 4

    public init(seed: UInt64, stream: RNGStream, epoch: UInt32 = 0, position: UInt32 = 0) {
        self.key = (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
        self.stream = stream.rawValue
        self.epoch = epoch
        self.position = position
    }

    /// The next 32 random bits.
    @inlinable
    public mutating func nextUInt32() -> UInt32 {
        if used == 4 {
            buffer = philox4x32((block, position, epoch, stream), key: key)
            block &+= 1
            used = 0
        }
        defer { used += 1 }
        switch used {
        case 0: return buffer.0
        case 1: return buffer.1
        case 2: return buffer.2
        default: return buffer.3
        }
    }

    @inlinable
    public mutating func next() -> UInt64 {
        let hi = UInt64(nextUInt32())
        return (hi << 32) | UInt64(nextUInt32())
    }

    /// A uniform double in [0, 1) with 53 random bits.
    @inlinable
    public mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A uniform double in (0, 1]: safe for `log`.
    @inlinable
    public mutating func uniformPositive() -> Double {
        Double((next() >> 11) + 1) * 0x1.0p-53
    }

    /// A uniform integer in `0..<n` (Lemire's multiply-shift with rejection; unbiased).
    @inlinable
    public mutating func uniformInt(below n: Int) -> Int {
        precondition(n > 0, "uniformInt(below:) needs n > 0")
        let bound = UInt64(n)
        var product = next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold {
                product = next().multipliedFullWidth(by: bound)
            }
        }
        return Int(product.high)
    }

    /// A standard normal draw (Box–Muller, one of the pair).
    @inlinable
    public mutating func normal() -> Double {
        let u1 = uniformPositive()
        let u2 = uniform()
        return (-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2)
    }
}
