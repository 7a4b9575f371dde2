import Kernels
import NN
import TestSupport
import XCTest

/// conv0's fused kernels (`conv3x3Pool`, `conv3x3PoolBackward`) against the unfused path
/// they replace with the references' sums (im2col, `smallKGemmReference` and
/// `longKGemmNTReference`, `BiasReLUMaxPool`), bit for bit, on every vector path this CPU has,
/// at 1 and 2 threads, in both input layouts; and without a vector path they decline (the
/// network then keeps OpenBLAS).
final class SmallKConvTests: XCTestCase {
    override func tearDown() { setThreads(2) }

    func testFusedConvPoolMatchesTheUnfusedReference() {
        var rng = TestRNG(81)
        // (Cout, Cin, B, H, W, layout): conv0's shape; widths with and without a 16-column tail; tiny planes.
        let shapes: [(Int, Int, Int, Int, Int, ConvGeometry.Layout)] = [
            (32, 3, 2, 32, 32, .nchw), (5, 3, 1, 6, 18, .nchw), (9, 1, 3, 2, 2, .cnhw), (13, 4, 2, 4, 34, .cnhw),
            (1, 1, 1, 2, 2, .nchw), (7, 3, 2, 16, 48, .cnhw),
        ]
        for (M, C, B, H, W, layout) in shapes {
            let K = 9 * C, N = B * H * W, P = N / 4
            let g = ConvGeometry(channels: C, height: H, width: W, batch: B, layout: layout)
            var x = rng.floats(C * B * H * W)
            for i in stride(from: 0, to: x.count, by: 9) { x[i] = 0 }
            var w = rng.floats(M * K)
            for p in 0..<K { w[p] = 0 }                       // channel 0: all ties, output = ReLU(bias)
            if M > 2 { for p in 0..<K { w[2 * K + p] = -0.0 } }
            let bias = rng.floats(M, scale: 0.3)
            var col = [Float](repeating: 7, count: K * N)
            im2col(g, input: x, col: &col)
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
                    let what = "\(isa) \(threads)T \(M) \(C) \(B) \(H)×\(W) \(layout)"
                    var out = [Float](repeating: .nan, count: M * P), am = [UInt8](repeating: 9, count: M * P)
                    let ran = withVectorKernelISA(isa) {
                        conv3x3Pool(g, input: x, weight: w, bias: bias, outChannels: M, output: &out, argmax: &am)
                    }
                    XCTAssertEqual(ran, isa != "baseline", what)
                    guard ran else { continue }
                    XCTAssertEqual(out.map(\.bitPattern), ref.map(\.bitPattern), "forward " + what)
                    XCTAssertEqual(am, refAm, "argmax " + what)

                    var dw = [Float](repeating: .nan, count: M * K), db = [Float](repeating: .nan, count: M)
                    XCTAssertTrue(withVectorKernelISA(isa) {
                        conv3x3PoolBackward(g, input: x, dOutput: dOut, output: ref, argmax: refAm, outChannels: M,
                                            dWeight: &dw, dBias: &db)
                    })
                    XCTAssertEqual(dw.map(\.bitPattern), dwRef.map(\.bitPattern), "dWeight " + what)
                    XCTAssertEqual(db.map(\.bitPattern), dbRef.map(\.bitPattern), "dBias " + what)
                }
            }
        }
    }

    /// The fused kernels are the convolution and its weight gradient: against a direct
    /// convolution and its backward accumulated in Double, tightly.
    func testFusedKernelsAreTheConvolution() {
        guard hasSmallKConvKernels else { return }
        var rng = TestRNG(82)
        let (M, C, B, H, W) = (4, 3, 2, 6, 20)
        let K = C * 9, P = B * H * W / 4
        let x = rng.floats(B * C * H * W), w = rng.floats(M * K), bias = rng.floats(M, scale: 0.2)
        let g = ConvGeometry(channels: C, height: H, width: W, batch: B, layout: .nchw)
        var out = [Float](repeating: 0, count: M * P), am = [UInt8](repeating: 0, count: M * P)
        XCTAssertTrue(conv3x3Pool(g, input: x, weight: w, bias: bias, outChannels: M, output: &out, argmax: &am))
        // Naive: conv (NCHW, Double) → bias, ReLU, pool.
        var raw = [Float](repeating: 0, count: B * M * H * W)
        naiveConv2DForward(input: x, weight: w, bias: bias, output: &raw, batch: B, inChannels: C, outChannels: M,
                           height: H, width: W)
        for co in 0..<M {
            for b in 0..<B {
                for oy in 0..<(H / 2) {
                    for ox in 0..<(W / 2) {
                        let base = ((b * M + co) * H + 2 * oy) * W + 2 * ox
                        let m = max(raw[base], raw[base + 1], raw[base + W], raw[base + W + 1])
                        let o = ((co * B + b) * (H / 2) + oy) * (W / 2) + ox
                        XCTAssertEqual(out[o], max(m, 0), accuracy: 1e-5 * max(1, abs(m)), "output \(o)")
                    }
                }
            }
        }
        let dOut = rng.floats(M * P)
        var dw = [Float](repeating: 0, count: M * K), db = [Float](repeating: 0, count: M)
        XCTAssertTrue(conv3x3PoolBackward(g, input: x, dOutput: dOut, output: out, argmax: am, outChannels: M,
                                          dWeight: &dw, dBias: &db))
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
