#if canImport(Glibc)
import Glibc
#endif
import MixCore

/// Targets that fail on purpose, to show that the harness catches what it
/// claims to: a trap, a hang, a memory blow-up, a leak, an unnamed error. Run only
/// when named (`--target canary-crash`); the tests use them.
final class CanaryTarget: FuzzTarget {
    enum Kind { case crash, hang, memory, leak, unnamed }

    let kind: Kind
    let seeds: [[UInt8]] = [[0x10, 0x20, 0x30, 0x40]]

    init(_ kind: Kind) {
        self.kind = kind
    }

    func generate(rng: inout FuzzRNG) -> [UInt8] {
        var b = seeds[0]
        ByteMutator.mutate(&b, rng: &rng, donors: [])
        if b.isEmpty { b = [0] }
        b[0] = rng.byte()
        return b
    }

    /// An input triggers the canary when its first byte is below 64 (about a quarter of cases).
    func run(_ input: [UInt8]) -> FuzzOutcome {
        guard let first = input.first, first < 64 else { return .namedError("canary: input not triggering") }
        switch kind {
        case .crash:
            let values = [Int(first)]
            return values[Int(first) + 1] > 0 ? .success : .namedError("unreachable")  // index out of range: a trap
        case .hang:
            while true { sleep(1) }
        case .memory:
            var block = [UInt8](repeating: 1, count: 300 << 20)
            block[Int(first)] = 2
            return block[Int(first)] == 2 ? .success : .namedError("unreachable")
        case .leak:
            let kept = Box(Array(repeating: first, count: 1 << 20))
            _ = Unmanaged.passRetained(kept)  // never released
            return .success
        case .unnamed:
            return Steps(naming: ["canary"]).classify(CanaryError())
        }
    }

    struct CanaryError: Error {}

    final class Box {
        let bytes: [UInt8]

        init(_ bytes: [UInt8]) {
            self.bytes = bytes
        }
    }
}
