// The only Swift file that imports CCPUID.
import CCPUID

/// What the processor can run, read with `cpuid` and `xgetbv`: vendor, family/model and
/// the SIMD extensions that matter for choosing BLAS kernels. A feature counts only when
/// the CPU has it *and* the OS saves its registers (XCR0), as OpenBLAS itself requires.
public struct CPUFeatures: Sendable, Equatable {
    /// `GenuineIntel`, `AuthenticAMD`, … (empty off x86).
    public var vendor: String
    /// Display family and model (base + extended fields, as `lscpu` prints them).
    public var family: Int
    public var model: Int
    public var sse42 = false
    public var avx = false
    public var avx2 = false
    public var fma = false
    public var avx512f = false
    public var avx512bw = false
    public var avx512dq = false
    public var avx512vl = false
    public var avx512cd = false

    public init(vendor: String, family: Int, model: Int) {
        self.vendor = vendor
        self.family = family
        self.model = model
    }

    public var isIntel: Bool { vendor == "GenuineIntel" }
    public var isAMD: Bool { vendor == "AuthenticAMD" || vendor == "HygonGenuine" }
    /// AVX2 and FMA, usable.
    public var hasAVX2FMA: Bool { avx && avx2 && fma }
    /// The AVX-512 subsets OpenBLAS's SkylakeX kernels use (F, CD, BW, DQ, VL), usable.
    public var hasAVX512: Bool { avx512f && avx512cd && avx512bw && avx512dq && avx512vl }

    /// A short description: `AuthenticAMD family 25 model 17: AVX-512, AVX2+FMA`.
    public var summary: String {
        var isa: [String] = []
        if hasAVX512 { isa.append("AVX-512") }
        if hasAVX2FMA { isa.append("AVX2+FMA") } else if avx { isa.append("AVX") }
        if isa.isEmpty && sse42 { isa.append("SSE4.2") }
        let v = vendor.isEmpty ? "unknown CPU" : vendor
        return "\(v) family \(family) model \(model)" + (isa.isEmpty ? "" : ": " + isa.joined(separator: ", "))
    }

    /// The features of the processor this runs on.
    public static let current: CPUFeatures = read()

    static func read() -> CPUFeatures {
        func cpuid(_ leaf: UInt32, _ sub: UInt32 = 0) -> mxs_cpuid_regs? {
            var r = mxs_cpuid_regs()
            return mxs_cpuid(leaf, sub, &r) != 0 ? r : nil
        }
        guard let l0 = cpuid(0) else { return CPUFeatures(vendor: "", family: 0, model: 0) }
        var vendorBytes: [UInt8] = []
        for reg in [l0.ebx, l0.edx, l0.ecx] {
            for shift in stride(from: 0, to: 32, by: 8) { vendorBytes.append(UInt8((reg >> UInt32(shift)) & 0xFF)) }
        }
        let vendor = String(decoding: vendorBytes, as: UTF8.self)
        let l1 = cpuid(1) ?? mxs_cpuid_regs()
        let baseFamily = Int((l1.eax >> 8) & 0xF), baseModel = Int((l1.eax >> 4) & 0xF)
        let extFamily = Int((l1.eax >> 20) & 0xFF), extModel = Int((l1.eax >> 16) & 0xF)
        let family = baseFamily == 0xF ? baseFamily + extFamily : baseFamily
        let model = (baseFamily == 0xF || baseFamily == 0x6) ? (extModel << 4) + baseModel : baseModel
        var f = CPUFeatures(vendor: vendor, family: family, model: model)
        let xcr0 = mxs_xgetbv0()
        let osYMM = xcr0 & 0x6 == 0x6            // SSE and AVX state
        let osZMM = osYMM && xcr0 & 0xE0 == 0xE0 // opmask, ZMM_Hi256, Hi16_ZMM
        f.sse42 = (l1.ecx >> 20) & 1 == 1
        f.avx = osYMM && (l1.ecx >> 28) & 1 == 1
        f.fma = osYMM && (l1.ecx >> 12) & 1 == 1
        if Int(l0.eax) >= 7, let l7 = cpuid(7) {
            func bit(_ n: UInt32) -> Bool { (l7.ebx >> n) & 1 == 1 }
            f.avx2 = osYMM && bit(5)
            f.avx512f = osZMM && bit(16)
            f.avx512dq = osZMM && bit(17)
            f.avx512cd = osZMM && bit(28)
            f.avx512bw = osZMM && bit(30)
            f.avx512vl = osZMM && bit(31)
        }
        return f
    }
}
