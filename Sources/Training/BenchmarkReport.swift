import Dispatch
import Kernels
import NN

/// Training defaults that are not pipeline keys.
public enum TrainingDefaults {
    /// Samples per micro-batch: the unit of work of the training threads (`SeedCNN.microBatch`).
    public static let microBatch = SeedCNN.defaultMicroBatch
}

/// The BLAS library, kernel and CPU behind a figure, for benchmark output and reports.
public enum BLASReport {
    /// `BLAS: OpenBLAS 0.3.21, kernel Zen (chosen by mixshards for this CPU), on AuthenticAMD family 25 model 17: AVX-512, AVX2+FMA`
    public static var line: String { "BLAS: " + BLASKernel.runtime.description + "; C kernels: \(vectorKernelISA)" }
    /// `Zen (chosen by mixshards for this CPU)`.
    public static var kernel: String { BLASKernel.runtime.kernelDescription }
    /// Why the kernel may be slower than the CPU allows, if it may.
    public static var warning: String? { BLASKernel.runtime.warning }
}

/// The per-phase profile of `mixtrain bench --profile`: CPU milliseconds per step, share,
/// and effective GFLOP/s of each layer against single-thread SGEMM on this machine.
public enum ProfileTable {
    /// Multiply-adds ×2 of each layer per sample, as a direct convolution / dense layer
    /// would do them (Winograd blocks do fewer; their GFLOP/s is "effective").
    /// Keys: `convI fwd`, `convI bwd`, `fc fwd`, `fc bwd`.
    static func flops(_ c: CNNConfig) -> [String: Double] {
        var out: [String: Double] = [:]
        var cin = c.inputChannels
        for (i, cout) in c.widths.enumerated() {
            let f = 2 * Double(cout * cin * 9) * Double(c.height(block: i)) * Double(c.width(block: i))
            out["conv\(i) fwd"] = f
            out["conv\(i) bwd"] = i == 0 ? f : 2 * f   // dW (+ dX after the first block)
            cin = cout
        }
        let fc = 2 * Double(c.flatFeatures * c.hidden + c.hidden * c.classes)
        out["fc fwd"] = fc
        out["fc bwd"] = 2 * fc
        return out
    }

    /// The layer a phase name belongs to (`conv1.winogradBack` → `conv1 bwd`).
    static func layer(of phase: String) -> String {
        if phase == "fc" { return "fc fwd" }
        if phase == "fcBack" || phase == "loss" { return "fc bwd" }
        guard phase.hasPrefix("conv"), let dot = phase.firstIndex(of: ".") else { return phase }
        let conv = String(phase[..<dot]), part = phase[phase.index(after: dot)...]
        let backward = ["winogradBack", "convPoolBack", "poolBack", "gemmW", "gemmX", "col2im"].contains(String(part))
        return conv + (backward ? " bwd" : " fwd")
    }

    /// Single-thread SGEMM rate (GFLOP/s) on 512³, the yardstick for "% of peak".
    public static func sgemmPeak() -> Double {
        let n = 512
        let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
        var c = [Float](repeating: 0, count: n * n)
        var best = Double.infinity
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    for _ in 0..<8 {
                        let t0 = DispatchTime.now().uptimeNanoseconds
                        sgemm(m: n, n: n, k: n, a: ap.baseAddress!, b: bp.baseAddress!, c: cp.baseAddress!)
                        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
                    }
                }
            }
        }
        return 2 * Double(n * n * n) / best / 1e9
    }

    /// The table: per layer and phase, CPU ms per step and share; per layer, effective
    /// GFLOP/s per thread and % of single-thread SGEMM.
    public static func render(_ phases: [(name: String, secondsPerStep: Double)], batch: Int, threads: Int,
                              config: CNNConfig = CNNConfig()) -> String {
        let total = phases.reduce(0) { $0 + $1.secondsPerStep }
        let peak = sgemmPeak()
        let flop = flops(config)
        var byLayer: [String: Double] = [:]
        for p in phases { byLayer[layer(of: p.name), default: 0] += p.secondsPerStep }
        var out = "profile: CPU ms per step (all threads), single-thread SGEMM 512³ = \(fmt1(peak)) GFLOP/s\n"
        out += "  layer       ms/step  share  GFLOP/s  % SGEMM   phases (ms)\n"
        for (name, sec) in byLayer.sorted(by: { $0.value > $1.value }) {
            let parts = phases.filter { layer(of: $0.name) == name }
                .map { "\($0.name) \(fmt1($0.secondsPerStep * 1e3))" }.joined(separator: ", ")
            var rate = "      —", pct = "      —"
            if let f = flop[name], sec > 0 {
                let g = f * Double(batch) / sec / 1e9
                rate = pad(fmt1(g), 7)
                pct = pad(fmt1(100 * g / peak) + "%", 7)
            }
            out += "  " + name.padding(toLength: 10, withPad: " ", startingAt: 0) + pad(fmt1(sec * 1e3), 9)
                + pad(fmt1(100 * sec / max(total, 1e-12)) + "%", 7) + "  " + rate + "  " + pct + "   " + parts + "\n"
        }
        out += "  total     " + pad(fmt1(total * 1e3), 9) + " (\(threads) thread\(threads == 1 ? "" : "s"))"
        return out
    }

    private static func fmt1(_ x: Double) -> String { String(format: "%.1f", x) }
    private static func pad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }
}
