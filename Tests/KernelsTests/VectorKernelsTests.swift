import Kernels
import TestSupport
import XCTest

/// The C kernels against their scalar Swift references: bit for bit, on every code path
/// this CPU can run (AVX-512, AVX2, baseline), on awkward sizes (counts not a multiple of
/// the vector width) and with ties, zeros of both signs and non-positive outputs in the data.
final class VectorKernelsTests: XCTestCase {
    override func setUp() { setThreads(2) }

    func testOutputPoolMatchesTheReferenceExactly() {
        for isa in availableVectorKernelISAs { withVectorKernelISA(isa) { outputPoolMatchesTheReference(isa) } }
        XCTAssertTrue(["AVX-512", "AVX2", "baseline"].contains(vectorKernelISA))
    }

    func outputPoolMatchesTheReference(_ isa: String) {
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
            XCTAssertEqual(out.map(\.bitPattern), ref.map(\.bitPattern), "\(isa) Cout \(Cout) T \(T)")
            XCTAssertEqual(am, refAm, "\(isa) Cout \(Cout) T \(T)")
            if Cout * T >= 20 { XCTAssertTrue(out.contains(0) && out.contains { $0 > 0 }, "the data should exercise ReLU") }

            let dOut = rng.floats(Cout * T)
            var dm = [Float](repeating: 7, count: 16 * plane), dmRef = dm
            var db = [Float](repeating: 7, count: Cout), dbRef = db
            winogradOutputPoolBackward(dOutput: dOut, output: out, argmax: am, outChannels: Cout, tiles: T, dm: &dm, dBias: &db)
            winogradOutputPoolBackwardReference(dOutput: dOut, output: out, argmax: am, outChannels: Cout, tiles: T,
                                                dm: &dmRef, dBias: &dbRef)
            XCTAssertEqual(dm.map(\.bitPattern), dmRef.map(\.bitPattern), "\(isa) Cout \(Cout) T \(T)")
            XCTAssertEqual(db.map(\.bitPattern), dbRef.map(\.bitPattern), "\(isa) Cout \(Cout) T \(T)")
        }
    }

    /// Adam's update (with and without AdamW's decay) on every path against the Swift
    /// reference, over counts that leave a tail on every vector width and one large enough to
    /// run in two chunks; zero moments and gradients of both signs included.
    func testAdamUpdateMatchesTheReferenceExactly() {
        for isa in availableVectorKernelISAs {
            withVectorKernelISA(isa) {
                var rng = TestRNG(31)
                for n in [1, 7, 15, 33, 1_000, 70_001] {
                    for decay in [nil, Float(1 - 1e-3 * 0.05)] {
                        let c = AdamCoefficients(w1: Float(1 - 0.9), beta2: 0.999, w2: Float(1 - 0.999), bc2Sqrt: Float((1 - 0.999 * 0.999).squareRoot()),
                                                 epsilon: 1e-8, stepSize: Float(1e-3 / (1 - 0.9 * 0.9)), decay: decay)
                        let g = Self.signedZeroFloats(&rng, n)
                        var p = rng.floats(n), m = rng.floats(n, scale: 0.01), v = rng.floats(n, scale: 1e-4).map(abs)
                        for i in stride(from: 3, to: n, by: 11) { (m[i], v[i]) = (0, 0) }
                        let p0 = p
                        var (pRef, mRef, vRef) = (p, m, v)
                        adamUpdate(parameters: &p, gradients: g, m: &m, v: &v, count: n, c)
                        adamUpdateReference(parameters: &pRef, gradients: g, m: &mRef, v: &vRef, count: n, c)
                        let what = "\(isa) n \(n) decay \(decay.map { "\($0)" } ?? "none")"
                        XCTAssertEqual(p.map(\.bitPattern), pRef.map(\.bitPattern), what)
                        XCTAssertEqual(m.map(\.bitPattern), mRef.map(\.bitPattern), what)
                        XCTAssertEqual(v.map(\.bitPattern), vRef.map(\.bitPattern), what)
                        XCTAssertNotEqual(p, p0, "the update should move the parameters: \(what)")
                    }
                }
            }
        }
    }

    /// Input data with exact zeros of both signs sprinkled in (the kernels must keep the
    /// reference's signed zeros, e.g. 0 + (−0) = +0).
    static func signedZeroFloats(_ rng: inout TestRNG, _ n: Int) -> [Float] {
        var x = rng.floats(n)
        for i in stride(from: 0, to: n, by: 5) { x[i] = 0 }
        for i in stride(from: 2, to: n, by: 7) { x[i] = -0.0 }
        return x
    }

    func testWinogradInputTransformsMatchTheReferenceExactly() {
        XCTAssertTrue(availableVectorKernelISAs.contains("baseline"))
        for isa in availableVectorKernelISAs {
            withVectorKernelISA(isa) {
                XCTAssertEqual(vectorKernelISA, isa)
                var rng = TestRNG(78)
                // (C, B, H, W): single tiles, odd tile counts, non-square, wide and tall planes.
                for (C, B, H, W) in [(1, 1, 2, 2), (3, 2, 4, 6), (5, 3, 10, 6), (2, 1, 2, 34), (4, 1, 34, 2),
                                     (7, 2, 16, 16), (3, 1, 18, 30), (2, 2, 32, 32)] {
                    let T = B * (H / 2) * (W / 2), slab = winogradSlabStride(C * T)
                    let x = Self.signedZeroFloats(&rng, C * B * H * W)
                    var v = [Float](repeating: 7, count: 16 * slab), vRef = v
                    winogradInputTransform(x, channels: C, batch: B, height: H, width: W, v: &v)
                    winogradInputTransformReference(x, channels: C, batch: B, height: H, width: W, v: &vRef)
                    XCTAssertEqual(v.map(\.bitPattern), vRef.map(\.bitPattern), "\(isa) transform \(C) \(B) \(H)×\(W)")
                    XCTAssertTrue(vRef.contains { $0 == 0 && $0.sign == .minus }, "the data should produce −0")

                    let dv = Self.signedZeroFloats(&rng, 16 * slab)
                    var dx = [Float](repeating: .nan, count: x.count), dxRef = dx
                    winogradInputGradient(dv, channels: C, batch: B, height: H, width: W, dInput: &dx)
                    winogradInputGradientReference(dv, channels: C, batch: B, height: H, width: W, dInput: &dxRef)
                    XCTAssertEqual(dx.map(\.bitPattern), dxRef.map(\.bitPattern), "\(isa) gradient \(C) \(B) \(H)×\(W)")
                    XCTAssertFalse(dxRef.contains { $0.isNaN })
                }
            }
        }
    }

    func testWinogradWeightTransformsMatchTheReferenceExactly() {
        for isa in availableVectorKernelISAs {
            withVectorKernelISA(isa) {
                var rng = TestRNG(83)
                // (Cout, Cin): one filter, counts not a multiple of any vector width, the seed CNN's blocks.
                for (Cout, Cin) in [(1, 1), (3, 5), (17, 7), (64, 32), (256, 128)] {
                    let slab = winogradSlabStride(Cout * Cin)
                    let w = Self.signedZeroFloats(&rng, Cout * Cin * 9)
                    var u = [Float](repeating: 7, count: 16 * slab), uRef = u
                    winogradWeightTransform(w, outChannels: Cout, inChannels: Cin, u: &u)
                    winogradWeightTransformReference(w, outChannels: Cout, inChannels: Cin, u: &uRef)
                    XCTAssertEqual(u.map(\.bitPattern), uRef.map(\.bitPattern), "\(isa) transform \(Cout)×\(Cin)")

                    let du = Self.signedZeroFloats(&rng, 16 * slab)
                    var dw = [Float](repeating: .nan, count: w.count), dwRef = dw
                    winogradWeightGradient(du, outChannels: Cout, inChannels: Cin, dWeight: &dw)
                    winogradWeightGradientReference(du, outChannels: Cout, inChannels: Cin, dWeight: &dwRef)
                    XCTAssertEqual(dw.map(\.bitPattern), dwRef.map(\.bitPattern), "\(isa) gradient \(Cout)×\(Cin)")
                    XCTAssertFalse(dwRef.contains { $0.isNaN })
                }
            }
        }
    }

    /// Relative closeness to a Double-accumulated naive GEMM: |c − ref| ≤ tol·Σ|a·b|.
    func assertNearNaive(_ c: [Float], _ ref: [Float], _ scale: [Float], tol: Float, _ what: String) {
        for i in c.indices where abs(c[i] - ref[i]) > tol * scale[i] {
            XCTFail("\(what): entry \(i) is \(c[i]), naive \(ref[i])")
            return
        }
    }

    /// The definition of conv0's conv values (checked bit for bit against the fused kernel in
    /// NNTests' SmallKConvTests) is close to a Double-accumulated GEMM.
    func testSmallKGemmReferenceIsAGemm() {
        var rng = TestRNG(79)
        for (m, n, k) in [(32, 1031, 27), (5, 33, 3), (1, 1, 1), (3, 7, 0)] {
            let a = Self.signedZeroFloats(&rng, m * k), b = Self.signedZeroFloats(&rng, k * n)
            var ref = [Float](repeating: 7, count: m * n), naive = ref
            smallKGemmReference(m: m, n: n, k: k, a: a, b: b, c: &ref)
            naiveGemm(m: m, n: n, k: k, a: a, b: b, c: &naive)
            var scale = [Float](repeating: 0, count: m * n)
            naiveGemm(m: m, n: n, k: k, a: a.map(abs), b: b.map(abs), c: &scale)
            assertNearNaive(ref, naive, scale, tol: 4e-6 * Float(max(k, 1)).squareRoot(), "reference \(m)×\(n)×\(k)")
            XCTAssertTrue(ref.allSatisfy { $0 != 7 })
        }
    }

    /// The definition of conv0's weight gradient (16 lanes, pairwise) is close to a
    /// Double-accumulated GEMM, k < 16 and k not a multiple of 16 included.
    func testLongKGemmNTReferenceIsAGemm() {
        var rng = TestRNG(80)
        for (m, n, k) in [(32, 27, 2061), (3, 5, 7), (5, 2, 1037), (1, 1, 16)] {
            let a = Self.signedZeroFloats(&rng, m * k), b = Self.signedZeroFloats(&rng, n * k)
            var ref = [Float](repeating: 7, count: m * n), naive = ref
            longKGemmNTReference(m: m, n: n, k: k, a: a, b: b, c: &ref)
            naiveGemm(transB: true, m: m, n: n, k: k, a: a, b: b, c: &naive)
            var scale = [Float](repeating: 0, count: m * n)
            naiveGemm(transB: true, m: m, n: n, k: k, a: a.map(abs), b: b.map(abs), c: &scale)
            assertNearNaive(ref, naive, scale, tol: 1e-6 * Float(k).squareRoot(), "reference \(m)×\(n)×\(k)")
            XCTAssertTrue(ref.allSatisfy { $0 != 7 })
        }
    }
}
