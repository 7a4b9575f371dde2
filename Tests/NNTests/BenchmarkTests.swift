import Foundation
import NN
import XCTest

/// Throughput benchmark; runs only with MIXSHARDS_BENCH=1 (use a release build).
final class BenchmarkTests: XCTestCase {
    func testTrainThroughput() throws {
        let env = ProcessInfo.processInfo.environment
        try XCTSkipUnless(env["MIXSHARDS_BENCH"] == "1", "set MIXSHARDS_BENCH=1 to run")
        let steps = Int(env["MIXSHARDS_BENCH_STEPS"] ?? "") ?? 20
        let threads = Int(env["MIXSHARDS_BENCH_THREADS"] ?? "") ?? 2
        let ips = benchmarkTrainSteps(config: CNNConfig(), batch: 128, steps: steps, threads: threads, seed: 1)
        print("train_images_per_s \(String(format: "%.1f", ips))")
        if env["MIXSHARDS_BENCH_PROFILE"] == "1" {
            let p = benchmarkProfile(config: CNNConfig(), batch: 128, steps: steps, threads: threads, seed: 1)
            print("profiled_images_per_s \(String(format: "%.1f", p.imagesPerSecond))")
            let total = p.phases.reduce(0) { $0 + $1.secondsPerStep }
            for ph in p.phases {
                print("  " + ph.name.padding(toLength: 20, withPad: " ", startingAt: 0)
                      + String(format: "%7.2f ms  %5.1f%%", ph.secondsPerStep * 1e3, 100 * ph.secondsPerStep / total))
            }
        }
        XCTAssertGreaterThan(ips, 0)
    }
}
