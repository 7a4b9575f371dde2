import Kernels
import TestSupport
import XCTest

/// The vectorised Winograd tails against their scalar Swift references: bit for bit, on
/// awkward sizes (tile counts not a multiple of the vector width) and with ties and
/// non-positive outputs in the data.
final class WinogradTailTests: XCTestCase {
    override func setUp() { setThreads(2) }

    func testOutputPoolMatchesTheReferenceExactly() {
        var rng = TestRNG(77)
        for (Cout, T) in [(1, 1), (3, 7), (5, 33), (17, 64), (64, 130)] {
            let plane = winogradSlabStride(Cout * T)
            var m = rng.floats(16 * plane)
            for i in stride(from: 0, to: m.count, by: 7) { m[i] = 0 }   // ties between tile outputs
            let bias = rng.floats(Cout, scale: 0.5)
            var out = [Float](repeating: -1, count: Cout * T), ref = out
            var am = [UInt8](repeating: 9, count: Cout * T), refAm = am
            winogradOutputPool(m, outChannels: Cout, tiles: T, bias: bias, output: &out, argmax: &am)
            winogradOutputPoolReference(m, outChannels: Cout, tiles: T, bias: bias, output: &ref, argmax: &refAm)
            XCTAssertEqual(out.map(\.bitPattern), ref.map(\.bitPattern), "Cout \(Cout) T \(T)")
            XCTAssertEqual(am, refAm, "Cout \(Cout) T \(T)")
            if Cout * T >= 20 { XCTAssertTrue(out.contains(0) && out.contains { $0 > 0 }, "the data should exercise ReLU") }

            let dOut = rng.floats(Cout * T)
            var dm = [Float](repeating: 7, count: 16 * plane), dmRef = dm
            var db = [Float](repeating: 7, count: Cout), dbRef = db
            winogradOutputPoolBackward(dOutput: dOut, output: out, argmax: am, outChannels: Cout, tiles: T, dm: &dm, dBias: &db)
            winogradOutputPoolBackwardReference(dOutput: dOut, output: out, argmax: am, outChannels: Cout, tiles: T,
                                                dm: &dmRef, dBias: &dbRef)
            XCTAssertEqual(dm.map(\.bitPattern), dmRef.map(\.bitPattern), "Cout \(Cout) T \(T)")
            XCTAssertEqual(db.map(\.bitPattern), dbRef.map(\.bitPattern), "Cout \(Cout) T \(T)")
        }
        XCTAssertTrue(["AVX2", "baseline"].contains(vectorKernelISA))
    }
}
