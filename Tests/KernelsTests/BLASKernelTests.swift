import XCTest
@testable import Kernels

/// The mapping from CPU features to OpenBLAS kernel names, and what the loaded library reports.
final class BLASKernelTests: XCTestCase {
    func cpu(_ vendor: String, family: Int = 6, model: Int = 0, avx512 avx512On: Bool = false, avx2: Bool = false,
             avx: Bool = false, sse42: Bool = true) -> CPUFeatures {
        var f = CPUFeatures(vendor: vendor, family: family, model: model)
        f.sse42 = sse42
        f.avx = avx || avx2 || avx512On
        f.avx2 = avx2 || avx512On
        f.fma = avx2 || avx512On
        f.avx512f = avx512On; f.avx512bw = avx512On; f.avx512dq = avx512On; f.avx512vl = avx512On; f.avx512cd = avx512On
        return f
    }

    func testPreferredKernelPerCPU() {
        // The Xeon of issue 8 (family 6 model 207): OpenBLAS 0.3.21 falls back to Prescott there.
        XCTAssertEqual(BLASKernel.preferred(for: cpu("GenuineIntel", model: 207, avx512: true)), "SkylakeX")
        XCTAssertEqual(BLASKernel.preferred(for: cpu("GenuineIntel", model: 158, avx2: true)), "Haswell")
        XCTAssertEqual(BLASKernel.preferred(for: cpu("GenuineIntel", model: 42, avx: true)), "Sandybridge")
        XCTAssertEqual(BLASKernel.preferred(for: cpu("GenuineIntel", model: 26)), "Nehalem")
        XCTAssertNil(BLASKernel.preferred(for: cpu("GenuineIntel", model: 15, sse42: false)))
        // AMD: the AVX2 Zen kernels, also on Zen 4 with AVX-512 (measured faster there).
        XCTAssertEqual(BLASKernel.preferred(for: cpu("AuthenticAMD", family: 25, model: 17, avx512: true)), "Zen")
        XCTAssertEqual(BLASKernel.preferred(for: cpu("AuthenticAMD", family: 23, model: 49, avx2: true)), "Zen")
        XCTAssertNil(BLASKernel.preferred(for: cpu("AuthenticAMD", family: 21, avx: true)))
        // No opinion off x86 or for other vendors.
        XCTAssertNil(BLASKernel.preferred(for: CPUFeatures(vendor: "", family: 0, model: 0)))
        XCTAssertNil(BLASKernel.preferred(for: cpu("CentaurHauls", avx2: true)))
        // An AVX-512 CPU whose OS does not save ZMM state is an AVX2 CPU.
        var noZMM = cpu("GenuineIntel", model: 85, avx2: true)
        noZMM.avx512f = false
        XCTAssertFalse(noZMM.hasAVX512)
        XCTAssertEqual(BLASKernel.preferred(for: noZMM), "Haswell")
    }

    func testTheUsersChoiceAlwaysWins() {
        let xeon = cpu("GenuineIntel", model: 207, avx512: true)
        let auto = BLASKernel.select(cpu: xeon, userChoice: nil)
        XCTAssertEqual(auto.requested, "SkylakeX")
        XCTAssertNil(auto.userChoice)
        let user = BLASKernel.select(cpu: xeon, userChoice: "Haswell")
        XCTAssertNil(user.requested)
        XCTAssertEqual(user.userChoice, "Haswell")
        XCTAssertEqual(BLASKernel.select(cpu: xeon, userChoice: "").requested, "SkylakeX") // empty = unset
        XCTAssertNil(BLASKernel.select(cpu: CPUFeatures(vendor: "", family: 0, model: 0), userChoice: nil).requested)
    }

    func testTiersOrderTheKernels() {
        XCTAssertEqual(BLASKernel.tier("Prescott"), 1)
        XCTAssertEqual(BLASKernel.tier("prescott"), 1)
        XCTAssertLessThan(BLASKernel.tier("Nehalem")!, BLASKernel.tier("Sandybridge")!)
        XCTAssertLessThan(BLASKernel.tier("Sandybridge")!, BLASKernel.tier("Haswell")!)
        XCTAssertEqual(BLASKernel.tier("Zen"), BLASKernel.tier("Haswell"))
        XCTAssertLessThan(BLASKernel.tier("Haswell")!, BLASKernel.tier("SkylakeX")!)
        XCTAssertEqual(BLASKernel.tier("Cooperlake"), BLASKernel.tier("SkylakeX"))
        XCTAssertNil(BLASKernel.tier("Zen9"))
    }

    func testRuntimeWarnsOnlyWhenSlowerThanTheCPUAllows() {
        let xeon = cpu("GenuineIntel", model: 207, avx512: true)
        func runtime(_ kernel: String, user: String?) -> BLASKernel.Runtime {
            BLASKernel.Runtime(kernel: kernel, selection: BLASKernel.select(cpu: xeon, userChoice: user),
                               config: "OpenBLAS 0.3.21 DYNAMIC_ARCH", library: "libopenblas.so.0")
        }
        let fallback = runtime("Prescott", user: "Prescott")
        XCTAssertEqual(fallback.origin, .user)
        XCTAssertTrue(fallback.warning?.contains("OPENBLAS_CORETYPE=Prescott") ?? false, "\(fallback.warning ?? "nil")")
        XCTAssertEqual(fallback.kernelDescription, "Prescott (OPENBLAS_CORETYPE)")
        XCTAssertNil(runtime("SkylakeX", user: "SkylakeX").warning)
        let chosen = runtime("SkylakeX", user: nil)
        XCTAssertEqual(chosen.origin, .mixshards)
        XCTAssertNil(chosen.warning)
        XCTAssertTrue(chosen.description.hasPrefix("OpenBLAS 0.3.21, kernel SkylakeX (chosen by mixshards"), chosen.description)
        // A library that lacks the requested kernel runs another one: say so.
        XCTAssertTrue(runtime("Haswell", user: nil).warning?.contains("asked OpenBLAS for its SkylakeX kernel") ?? false)
    }

    /// The library in this process was loaded after the selection: it runs the preferred
    /// kernel unless the environment chose one.
    func testTheLoadedLibraryRunsTheSelectedKernel() {
        let rt = BLASKernel.runtime
        XCTAssertTrue(rt.config.hasPrefix("OpenBLAS"), rt.config)
        if let user = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"], !user.isEmpty {
            XCTAssertEqual(rt.origin, .user)
        } else if let want = BLASKernel.preferred(for: .current) {
            XCTAssertEqual(rt.kernel.lowercased(), want.lowercased(), rt.description)
            XCTAssertEqual(rt.origin, .mixshards)
        }
        XCTAssertEqual(CPUFeatures.current, CPUFeatures.read())
    }
}
