import Kernels
import NN
import TestSupport
import XCTest

/// conv0's fused small-K kernels against the unfused definitions they replace (the
/// references `smallKGemmReference`/`longKGemmNTReference` with `BiasReLUMaxPool`), bit for
/// bit, on every vector path this CPU has and at 1 and 2 threads; and without a vector path
/// they decline (the network then keeps OpenBLAS).
final class SmallKConvTests: XCTestCase {
    override func tearDown() { setThreads(2) }

    func testFusedConvPoolMatchesTheUnfusedReference() {
        var rng = TestRNG(81)
        // (Cout, K, B, H, W): conv0's shape; widths with and without a 16-column tail; tiny planes.
        for (M, K, B, H, W) in [(32, 27, 2, 32, 32), (5, 27, 1, 6, 18), (9, 3, 3, 2, 2), (13, 30, 2, 4, 34), (1, 1, 1, 2, 2)] {
            let N = B * H * W, P = N / 4
            var col = rng.floats(K * N)
            for i in stride(from: 0, to: col.count, by: 9) { col[i] = 0 }
            var w = rng.floats(M * K)
            for p in 0..<K { w[p] = 0 }                       // channel 0: all ties, output = ReLU(bias)
            if M > 2 { for p in 0..<K { w[2 * K + p] = -0.0 } }
            let bias = rng.floats(M, scale: 0.3)
            var conv = [Float](repeating: 0, count: M * N)
            smallKGemmReference(m: M, n: N, k: K, a: w, b: col, c: &conv)
            var ref = [Float](repeating: 7, count: M * P), refAm = [UInt8](repeating: 9, count: M * P)
            BiasReLUMaxPool.forward(conv, bias: bias, channels: M, planesPerChannel: B, height: H, width: W,
                                    output: &ref, argmax: &refAm)
            let dOut = rng.floats(M * P)
            var dConv = [Float](repeating: 7, count: M * N), dbRef = [Float](repeating: 7, count: M)
            BiasReLUMaxPool.backward(dOutput: dOut, output: ref, argmax: refAm, channels: M, planesPerChannel: B,
                                     height: H, width: W, dInput: &dConv, dBias: &dbRef)
            var dwRef = [Float](repeating: 7, count: M * K)
            longKGemmNTReference(m: M, n: K, k: N, a: dConv, b: col, c: &dwRef)
            if M * P > 40 { XCTAssertTrue(ref.contains(0) && ref.contains { $0 > 0 }, "the data should exercise ReLU") }

            for isa in availableVectorKernelISAs {
                for threads in [1, 2] {
                    setThreads(threads)
                    let what = "\(isa) \(threads)T \(M) \(K) \(B) \(H)×\(W)"
                    var out = [Float](repeating: .nan, count: M * P), am = [UInt8](repeating: 9, count: M * P)
                    let ran = withVectorKernelISA(isa) {
                        smallKConvPool(weight: w, col: col, bias: bias, outChannels: M, k: K, batch: B, height: H, width: W,
                                       output: &out, argmax: &am)
                    }
                    XCTAssertEqual(ran, isa != "baseline", what)
                    guard ran else { continue }
                    XCTAssertEqual(out.map(\.bitPattern), ref.map(\.bitPattern), "forward " + what)
                    XCTAssertEqual(am, refAm, "argmax " + what)

                    var dw = [Float](repeating: .nan, count: M * K), db = [Float](repeating: .nan, count: M)
                    XCTAssertTrue(withVectorKernelISA(isa) {
                        smallKConvPoolBackward(dOutput: dOut, output: ref, argmax: refAm, col: col, outChannels: M, k: K,
                                               batch: B, height: H, width: W, dWeight: &dw, dBias: &db)
                    })
                    XCTAssertEqual(dw.map(\.bitPattern), dwRef.map(\.bitPattern), "dWeight " + what)
                    XCTAssertEqual(db.map(\.bitPattern), dbRef.map(\.bitPattern), "dBias " + what)
                }
            }
        }
    }

    /// The network's conv0 gradient with the fused kernels stays a gradient: the im2col
    /// path's dW against a Double naive convolution, tightly.
    func testFusedBackwardIsTheConvolutionGradient() {
        guard hasSmallKGemm else { return }
        var rng = TestRNG(82)
        let (M, C, B, H, W) = (4, 3, 2, 6, 20)
        let K = C * 9, N = B * H * W, P = N / 4
        let x = rng.floats(B * C * H * W), w = rng.floats(M * K), bias = rng.floats(M, scale: 0.2)
        let g = ConvGeometry(channels: C, height: H, width: W, batch: B, layout: .nchw)
        var col = [Float](repeating: 0, count: K * N)
        im2col(g, input: x, col: &col)
        var out = [Float](repeating: 0, count: M * P), am = [UInt8](repeating: 0, count: M * P)
        XCTAssertTrue(smallKConvPool(weight: w, col: col, bias: bias, outChannels: M, k: K, batch: B, height: H, width: W,
                                     output: &out, argmax: &am))
        let dOut = rng.floats(M * P)
        var dw = [Float](repeating: 0, count: M * K), db = [Float](repeating: 0, count: M)
        XCTAssertTrue(smallKConvPoolBackward(dOutput: dOut, output: out, argmax: am, col: col, outChannels: M, k: K,
                                             batch: B, height: H, width: W, dWeight: &dw, dBias: &db))
        // Naive: dConv (NCHW) from the pooled gradient, then the Double convolution backward.
        var dConv = [Float](repeating: 0, count: B * M * H * W)
        for co in 0..<M {
            for b in 0..<B {
                for oy in 0..<(H / 2) {
                    for ox in 0..<(W / 2) {
                        let o = ((co * B + b) * (H / 2) + oy) * (W / 2) + ox
                        guard out[o] > 0 else { continue }
                        let a = Int(am[o])
                        dConv[((b * M + co) * H + 2 * oy + a / 2) * W + 2 * ox + a % 2] = dOut[o]
                    }
                }
            }
        }
        var dIn = [Float](repeating: 0, count: x.count), dwNaive = [Float](repeating: 0, count: w.count)
        var dbNaive = [Float](repeating: 0, count: M)
        naiveConv2DBackward(input: x, weight: w, dOutput: dConv, dInput: &dIn, dWeight: &dwNaive, dBias: &dbNaive,
                            batch: B, inChannels: C, outChannels: M, height: H, width: W)
        assertClose(dw, dwNaive, tol: 1e-5, "dW")
        assertClose(db, dbNaive, tol: 1e-5, "dBias")
        XCTAssertTrue(dw.contains { abs($0) > 0.1 })
    }
}
