import Kernels
import NN
import TestSupport
import XCTest

final class WinogradTests: XCTestCase {
    override func setUp() { setThreads(2) }

    /// The Winograd block equals the network's im2col path (im2col + GEMM, fused bias/ReLU/pool), forward and
    /// backward, on square and non-square planes (H×W: 6×6, 4×4, 2×2, 6×4, 2×8, 12×8).
    func testWinogradBlockMatchesIm2colPath() {
        var rng = TestRNG(30)
        for (B, Cin, Cout, H, W) in [(2, 3, 4, 6, 6), (3, 5, 2, 4, 4), (1, 2, 3, 2, 2), (2, 3, 4, 6, 4), (3, 2, 3, 2, 8), (1, 4, 2, 12, 8)] {
            let block = WinogradConvBlock(inChannels: Cin, outChannels: Cout)
            let conv = Conv2D(inChannels: Cin, outChannels: Cout)
            let g = conv.geometry(batch: B, height: H, width: W, layout: .cnhw)
            let x = rng.floats(Cin * B * H * W), w = rng.floats(conv.weightCount), b = rng.floats(Cout, scale: 0.2)
            let T = block.tiles(batch: B, height: H, width: W)
            XCTAssertEqual(T, B * (H / 2) * (W / 2))
            // Reference: conv without bias → fused bias/ReLU/pool.
            var col = [Float](repeating: 0, count: g.colRows * g.colColumns)
            var raw = [Float](repeating: 0, count: Cout * B * H * W)
            im2col(g, input: x, col: &col)
            sgemm(m: Cout, n: g.colColumns, k: g.colRows, a: w, b: col, c: &raw)
            var ref = [Float](repeating: 0, count: Cout * T), refAm = [UInt8](repeating: 0, count: Cout * T)
            BiasReLUMaxPool.forward(raw, bias: b, channels: Cout, planesPerChannel: B, height: H, width: W,
                                    output: &ref, argmax: &refAm)
            var u = [Float](repeating: 0, count: block.uCount)
            var v = [Float](repeating: 0, count: block.vCount(batch: B, height: H, width: W))
            var m = [Float](repeating: 0, count: block.mCount(batch: B, height: H, width: W))
            var out = [Float](repeating: 0, count: Cout * T), am = [UInt8](repeating: 0, count: Cout * T)
            block.forward(input: x, batch: B, height: H, width: W, weight: w, bias: b, u: &u, v: &v, m: &m, output: &out, argmax: &am)
            assertClose(out, ref, tol: 1e-5, "forward \(B) \(Cin) \(Cout) \(H)×\(W)")
            XCTAssertEqual(am, refAm)
            // Backward.
            let dOut = rng.floats(Cout * T)
            var dRaw = [Float](repeating: 0, count: raw.count), dbRef = [Float](repeating: 0, count: Cout)
            BiasReLUMaxPool.backward(dOutput: dOut, output: ref, argmax: refAm, channels: Cout, planesPerChannel: B,
                                     height: H, width: W, dInput: &dRaw, dBias: &dbRef)
            var dwRef = [Float](repeating: 0, count: w.count), dcol = [Float](repeating: 0, count: col.count)
            var dxRef = [Float](repeating: 0, count: x.count)
            sgemm(transB: true, m: Cout, n: g.colRows, k: g.colColumns, a: dRaw, b: col, c: &dwRef)
            sgemm(transA: true, m: g.colRows, n: g.colColumns, k: Cout, a: w, b: dRaw, c: &dcol)
            col2im(g, col: dcol, output: &dxRef)
            var du = [Float](repeating: 0, count: block.uCount)
            var dw = [Float](repeating: 0, count: w.count), db = [Float](repeating: 0, count: Cout)
            var dx = [Float](repeating: .nan, count: x.count)
            block.backward(dOutput: dOut, output: out, argmax: am, batch: B, height: H, width: W, u: u, v: &v, m: &m, du: &du,
                           dWeight: &dw, dBias: &db, dInput: &dx)
            assertClose(dw, dwRef, tol: 1e-5, "dW")
            assertClose(db, dbRef, tol: 1e-5, "dB")
            assertClose(dx, dxRef, tol: 1e-5, "dX")
        }
    }

    /// Weight and input transforms are exact adjoint pairs of their gradients (input planes square and not).
    func testTransformAdjoints() {
        var rng = TestRNG(31)
        let (C, B, Co) = (3, 2, 4)
        for (H, W) in [(6, 6), (4, 8), (10, 2)] {
            let T = B * (H / 2) * (W / 2)
            let vN = 16 * winogradSlabStride(C * T)
            let x = rng.floats(C * B * H * W), y = rng.floats(vN)
            var vx = [Float](repeating: 0, count: vN), xy = [Float](repeating: 0, count: x.count)
            winogradInputTransform(x, channels: C, batch: B, height: H, width: W, v: &vx)
            winogradInputGradient(y, channels: C, batch: B, height: H, width: W, dInput: &xy)
            // Padding entries between slabs are not part of the map; zero them in y's pairing.
            var lhs = 0.0
            let slab = winogradSlabStride(C * T)
            for xi in 0..<16 { for i in 0..<(C * T) { lhs += Double(vx[xi * slab + i]) * Double(y[xi * slab + i]) } }
            XCTAssertEqual(lhs, dot(x, xy), accuracy: 1e-3, "\(H)×\(W)")
        }
        let uN = 16 * winogradSlabStride(Co * C)
        let w = rng.floats(Co * C * 9), z = rng.floats(uN)
        var uw = [Float](repeating: 0, count: uN), wz = [Float](repeating: 0, count: w.count)
        winogradWeightTransform(w, outChannels: Co, inChannels: C, u: &uw)
        winogradWeightGradient(z, outChannels: Co, inChannels: C, dWeight: &wz)
        var lhs2 = 0.0
        let uslab = winogradSlabStride(Co * C)
        for xi in 0..<16 { for i in 0..<(Co * C) { lhs2 += Double(uw[xi * uslab + i]) * Double(z[xi * uslab + i]) } }
        XCTAssertEqual(lhs2, dot(w, wz), accuracy: 1e-3)
    }

    /// Whole network: Winograd and im2col paths give the same loss and gradients, on square and
    /// non-square images (H×W 16×16, 48×32 and 32×64).
    func testNetworkWinogradMatchesIm2col() {
        for (H, W) in [(16, 16), (48, 32), (32, 64)] {
            let config = CNNConfig(widths: [4, 6, 8, 8], hidden: 10, classes: 4, inputChannels: 3, inputHeight: H, inputWidth: W)
            var rng = TestRNG(32)
            let B = 3
            let x = rng.floats(B * config.inputCount), y = rng.softTargets(rows: B, k: config.classes)
            let a = SeedCNN(config: config, seed: 1, winogradMinInputChannels: 1)
            let b = SeedCNN(config: config, seed: 1, winogradMinInputChannels: .max)
            XCTAssertEqual(a.usesWinograd, [false, true, true, true])
            XCTAssertEqual(b.usesWinograd, [false, false, false, false])
            let la = a.trainStep(input: x, targets: y, batch: B), lb = b.trainStep(input: x, targets: y, batch: B)
            XCTAssertEqual(la, lb, accuracy: 1e-5, "\(H)×\(W)")
            assertClose(a.gradients, b.gradients, tol: 1e-4, "gradients \(H)×\(W)")
            assertClose(a.logits(input: x, batch: B), b.logits(input: x, batch: B), tol: 1e-5, "logits \(H)×\(W)")
        }
    }
}

extension WinogradTests {
    func testDefaultPolicy() {
        XCTAssertEqual(SeedCNN(config: CNNConfig(), seed: 0).usesWinograd, [false, true, true, true])
    }
}
