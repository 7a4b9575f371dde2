import Foundation

/// Which OpenBLAS kernel family (`OPENBLAS_CORETYPE`) this package wants on a CPU.
///
/// Why: a `DYNAMIC_ARCH` OpenBLAS picks its kernels from a table of CPU models it knows;
/// an older build on a newer CPU silently falls back to a generic SSE3 kernel (Debian's
/// 0.3.21 runs `Prescott` on recent Xeons: half the speed). The choice is made when the
/// library loads, so `OpenBLASLibrary` (BLAS.swift) sets `OPENBLAS_CORETYPE` to
/// `preferred(for:)` just for its own `dlopen`. A user's `OPENBLAS_CORETYPE` is always
/// respected (with a warning where it is slower than the CPU allows).
public enum BLASKernel {
    /// ISA tier of OpenBLAS's x86-64 core names (lower-cased): 1 SSE2/3, 2 SSE4.2, 3 AVX,
    /// 4 AVX2+FMA, 5 AVX-512. Names not listed are kernels this table does not know.
    static let tiers: [String: Int] = [
        "katmai": 1, "coppermine": 1, "northwood": 1, "banias": 1, "prescott": 1, "core2": 1, "penryn": 1,
        "dunnington": 1, "atom": 1, "athlon": 1, "opteron": 1, "barcelona": 1, "bobcat": 1, "nano": 1,
        "nehalem": 2,
        "sandybridge": 3, "bulldozer": 3, "piledriver": 3, "steamroller": 3,
        "haswell": 4, "zen": 4, "excavator": 4,
        "skylakex": 5, "cooperlake": 5, "sapphirerapids": 5,
    ]

    /// The ISA tier of a core name, nil for a name the table does not know.
    public static func tier(_ core: String) -> Int? { tiers[core.lowercased()] }

    /// The kernel this package prefers for `cpu`; nil where it has no opinion (not x86,
    /// an unknown vendor, or a CPU without SSE4.2), in which case the library's choice stands.
    ///
    /// - Intel: AVX-512 → `SkylakeX`, AVX2+FMA → `Haswell`, AVX → `Sandybridge`, SSE4.2 → `Nehalem`.
    /// - AMD: AVX2+FMA → `Zen`, with or without AVX-512. Measured on an AMD EPYC (Zen 4,
    ///   family 25 model 17), the Zen/Haswell AVX2 kernels train the seed CNN faster than
    ///   the AVX-512 ones OpenBLAS 0.3.21 picks there (`Cooperlake`); Zen 4 splits 512-bit
    ///   operations in two, so AVX-512 buys its GEMMs nothing.
    public static func preferred(for cpu: CPUFeatures) -> String? {
        if cpu.isIntel {
            if cpu.hasAVX512 { return "SkylakeX" }
            if cpu.hasAVX2FMA { return "Haswell" }
            if cpu.avx { return "Sandybridge" }
            if cpu.sse42 { return "Nehalem" }
            return nil
        }
        if cpu.isAMD, cpu.hasAVX2FMA { return "Zen" }
        return nil
    }

    /// The choice made before OpenBLAS loads.
    public struct Selection: Sendable, Equatable {
        /// `OPENBLAS_CORETYPE` as the user set it, if they did (always respected).
        public var userChoice: String?
        /// The kernel this package prefers on the CPU (nil: no opinion).
        public var preferred: String?
        /// What the package sets `OPENBLAS_CORETYPE` to while the library loads (nil: nothing).
        public var requested: String? { userChoice == nil ? preferred : nil }
    }

    /// Pure: the user's `OPENBLAS_CORETYPE` wins; otherwise the preferred kernel for `cpu`
    /// is requested; with no preference the library detects on its own.
    public static func select(cpu: CPUFeatures, userChoice: String?) -> Selection {
        let user = userChoice.flatMap { $0.isEmpty ? nil : $0 }
        return Selection(userChoice: user, preferred: preferred(for: cpu))
    }

    /// Where the running kernel came from.
    public enum Origin: String, Sendable {
        /// `OPENBLAS_CORETYPE` set by the user.
        case user
        /// Requested by this package for the CPU.
        case mixshards
        /// The library's own detection.
        case library
    }

    /// The loaded library as it runs.
    public struct Runtime: Sendable, CustomStringConvertible {
        /// `openblas_get_corename()`: the kernel family in use.
        public var kernel: String
        public var selection: Selection
        /// `openblas_get_config()`.
        public var config: String
        /// The file name or path that was loaded.
        public var library: String

        public var origin: Origin {
            if selection.userChoice != nil { return .user }
            return selection.requested != nil ? .mixshards : .library
        }

        /// Why the run may be slower than it could be, if it may: a user's kernel of a lower
        /// ISA tier than the CPU supports, or a requested kernel the library did not run.
        public var warning: String? {
            let cpu = CPUFeatures.current.summary
            if let user = selection.userChoice, let want = selection.preferred,
               let have = tier(kernel), let best = tier(want), have < best {
                return "OPENBLAS_CORETYPE=\(user) runs OpenBLAS's \(kernel) kernel; this CPU (\(cpu)) can run \(want), "
                    + "which is faster: unset the variable to let mixtrain choose"
            }
            if let asked = selection.requested, asked.lowercased() != kernel.lowercased() {
                return "asked OpenBLAS for its \(asked) kernel, but it runs \(kernel) (\(config))"
            }
            return nil
        }

        /// `Zen (chosen by mixshards for this CPU)`, `Prescott (OPENBLAS_CORETYPE)`, `Haswell (library's detection)`.
        public var kernelDescription: String {
            switch origin {
            case .user: return "\(kernel) (OPENBLAS_CORETYPE)"
            case .mixshards: return "\(kernel) (chosen by mixshards for this CPU)"
            case .library: return "\(kernel) (the library's detection)"
            }
        }

        /// One line: the build, the kernel and its origin, the CPU.
        public var description: String {
            let version = config.split(separator: " ").prefix(2).joined(separator: " ")
            return "\(version.isEmpty ? "OpenBLAS" : version), kernel \(kernelDescription), on \(CPUFeatures.current.summary)"
        }
    }
}
