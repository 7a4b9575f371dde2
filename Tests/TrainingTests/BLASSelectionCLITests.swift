import Foundation
import Kernels
import TestSupport
import XCTest

/// `mixtrain` picks its OpenBLAS kernel before the library loads, and every bench names it.
final class BLASSelectionCLITests: XCTestCase {
    func bench(_ env: [String: String]) throws -> (status: Int32, out: String, err: String) {
        try TestSupport.run(TestSupport.executable("mixtrain"), ["bench", "--steps", "1", "--batch", "2", "--threads", "1"],
                            env: env.merging(["OPENBLAS_VERBOSE": "2"]) { $1 })
    }

    func testBenchRunsAndNamesThePreferredKernel() throws {
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil else {
            throw XCTSkip("OPENBLAS_CORETYPE is set in this environment; the user's choice is tested below")
        }
        guard let want = BLASKernel.preferred(for: .current) else { throw XCTSkip("no preferred kernel for \(CPUFeatures.current.summary)") }
        let r = try bench([:])
        XCTAssertEqual(r.status, 0, r.err)
        // OpenBLAS's own start-up line names only the chosen kernel: no fallback was ever loaded.
        let cores = r.err.split(separator: "\n").filter { $0.hasPrefix("Core: ") }
        XCTAssertEqual(cores, ["Core: \(want)"], r.err)
        XCTAssertTrue(r.out.contains("kernel \(want) (chosen by mixshards for this CPU)"), r.out)
        XCTAssertFalse(r.err.contains("warning"), r.err)
    }

    /// A forced fallback (the user's OPENBLAS_CORETYPE=Prescott) is respected, named, and
    /// warned about where the CPU can do better.
    func testAForcedFallbackIsRespectedAndWarnedAbout() throws {
        let r = try bench(["OPENBLAS_CORETYPE": "Prescott"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.err.contains("Core: Prescott"), r.err)
        XCTAssertTrue(r.out.contains("kernel Prescott (OPENBLAS_CORETYPE)"), r.out)
        if let want = BLASKernel.preferred(for: .current), BLASKernel.tier(want)! > 1 {
            XCTAssertTrue(r.err.contains("warning: OPENBLAS_CORETYPE=Prescott runs OpenBLAS's Prescott kernel; this CPU"), r.err)
            XCTAssertTrue(r.err.contains("can run \(want)"), r.err)
        }
    }
}
