import Foundation
import Kernels
import TestSupport
import XCTest

func assertClose(_ a: [Float], _ b: [Float], tol: Float, _ msg: String = "",
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, msg, file: file, line: line)
    var worst: Float = 0, at = 0
    for i in 0..<min(a.count, b.count) {
        let d = abs(a[i] - b[i]) / max(1, abs(b[i]))
        if d > worst { worst = d; at = i }
    }
    XCTAssertLessThanOrEqual(worst, tol, "\(msg): worst relative error \(worst) at \(at) (\(a[at]) vs \(b[at]))",
                             file: file, line: line)
}

/// NCHW [B, C, H, W] → CNHW [C, B, H, W] (or back with swapped arguments).
func swapOuter(_ x: [Float], _ d0: Int, _ d1: Int, inner: Int) -> [Float] {
    var y = [Float](repeating: 0, count: x.count)
    for i in 0..<d0 { for j in 0..<d1 { for k in 0..<inner { y[(j * d0 + i) * inner + k] = x[(i * d1 + j) * inner + k] } } }
    return y
}

final class SgemmTests: XCTestCase {
    func testSgemmMatchesNaiveAllTransposes() {
        var rng = TestRNG(1)
        let (m, n, k) = (7, 11, 5)
        for transA in [false, true] {
            for transB in [false, true] {
                let a = rng.floats(m * k), b = rng.floats(k * n), c0 = rng.floats(m * n)
                var fast = c0, slow = c0
                sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a, b: b, beta: 2, c: &fast)
                naiveGemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a, b: b, beta: 2, c: &slow)
                assertClose(fast, slow, tol: 1e-5, "transA \(transA) transB \(transB)")
            }
        }
    }

    func testSgemmBetaZeroIgnoresGarbageAndRespectsLeadingDimensions() {
        // A is a 2×3 view into a 2×4 buffer; C is a 2×2 view into a 2×3 buffer.
        let a: [Float] = [1, 2, 3, 99, 4, 5, 6, 99]
        let b: [Float] = [1, 0, 0, 1, 1, 1]           // 3×2
        var c: [Float] = [.nan, .nan, -7, .nan, .nan, -7]
        sgemm(m: 2, n: 2, k: 3, a: a, lda: 4, b: b, beta: 0, c: &c, ldc: 3)
        XCTAssertEqual(c, [4, 5, -7, 10, 11, -7])
    }

    func testSetThreadsAndParallelForCoversEveryIndexOnce() {
        setThreads(2)
        XCTAssertEqual(kernelThreads, 2)
        XCTAssertEqual(blasThreads(), 1)   // BLAS runs single-threaded inside the package's workers
        var hits = [Int](repeating: 0, count: 1000)
        hits.withUnsafeMutableBufferPointer { h in
            let p = h.baseAddress!
            parallelFor(1000) { p[$0] += 1 }
        }
        XCTAssertEqual(hits, [Int](repeating: 1, count: 1000))
        var chunkHits = [Int](repeating: 0, count: 10_001)
        chunkHits.withUnsafeMutableBufferPointer { h in
            let p = h.baseAddress!
            parallelChunks(10_001, minChunk: 100) { r in for i in r { p[i] += 1 } }
        }
        XCTAssertEqual(chunkHits, [Int](repeating: 1, count: 10_001))
        setThreads(1)
        XCTAssertEqual(kernelThreads, 1)
    }
}

final class ConvKernelTests: XCTestCase {
    let (B, Cin, Cout, H, W) = (2, 3, 4, 5, 6)

    /// im2col + one sgemm over the batch reproduces the direct convolution, for NCHW
    /// and CNHW input layouts (output is CNHW).
    func testIm2colGemmForwardMatchesNaive() {
        setThreads(2)
        var rng = TestRNG(2)
        let x = rng.floats(B * Cin * H * W), w = rng.floats(Cout * Cin * 9), bias = rng.floats(Cout)
        var ref = [Float](repeating: 0, count: B * Cout * H * W)
        naiveConv2DForward(input: x, weight: w, bias: bias, output: &ref,
                           batch: B, inChannels: Cin, outChannels: Cout, height: H, width: W)
        for layout in [ConvGeometry.Layout.nchw, .cnhw] {
            let g = ConvGeometry(channels: Cin, height: H, width: W, batch: B, layout: layout)
            let input = layout == .nchw ? x : swapOuter(x, B, Cin, inner: H * W)
            var col = [Float](repeating: .nan, count: g.colRows * g.colColumns)
            im2col(g, input: input, col: &col)
            var out = [Float](repeating: 0, count: Cout * g.colColumns)
            sgemm(m: Cout, n: g.colColumns, k: g.colRows, a: w, b: col, c: &out)
            for c in 0..<Cout { for i in 0..<g.colColumns { out[c * g.colColumns + i] += bias[c] } }
            assertClose(swapOuter(out, Cout, B, inner: H * W), ref, tol: 1e-5, "layout \(layout)")
        }
    }

    /// dW = dOut × colᵀ and dX = col2im(Wᵀ × dOut) reproduce the direct backward.
    func testIm2colGemmBackwardMatchesNaive() {
        var rng = TestRNG(3)
        let x = rng.floats(B * Cin * H * W), w = rng.floats(Cout * Cin * 9), dy = rng.floats(B * Cout * H * W)
        var dxRef = [Float](repeating: 0, count: x.count), dwRef = [Float](repeating: 0, count: w.count)
        var dbRef = [Float](repeating: 0, count: Cout)
        naiveConv2DBackward(input: x, weight: w, dOutput: dy, dInput: &dxRef, dWeight: &dwRef, dBias: &dbRef,
                            batch: B, inChannels: Cin, outChannels: Cout, height: H, width: W)
        let g = ConvGeometry(channels: Cin, height: H, width: W, batch: B, layout: .cnhw)
        var col = [Float](repeating: 0, count: g.colRows * g.colColumns)
        im2col(g, input: swapOuter(x, B, Cin, inner: H * W), col: &col)
        let dyC = swapOuter(dy, B, Cout, inner: H * W)
        var dw = [Float](repeating: 0, count: w.count)
        sgemm(transB: true, m: Cout, n: g.colRows, k: g.colColumns, a: dyC, b: col, c: &dw)
        assertClose(dw, dwRef, tol: 1e-5, "dW")
        var dcol = [Float](repeating: 0, count: col.count)
        sgemm(transA: true, m: g.colRows, n: g.colColumns, k: Cout, a: w, b: dyC, c: &dcol)
        var dx = [Float](repeating: .nan, count: x.count)
        col2im(g, col: dcol, output: &dx)
        assertClose(swapOuter(dx, Cin, B, inner: H * W), dxRef, tol: 1e-5, "dX")
        for c in 0..<Cout {
            var s: Float = 0
            for b in 0..<B { for i in 0..<(H * W) { s += dy[(b * Cout + c) * H * W + i] } }
            XCTAssertEqual(s, dbRef[c], accuracy: 1e-4)
        }
    }

    /// col2im is the adjoint of im2col for general kernel / pad / stride:
    /// ⟨im2col(x), y⟩ = ⟨x, col2im(y)⟩.
    func testCol2imIsAdjointOfIm2col() {
        var rng = TestRNG(4)
        for (k, pad, stride) in [(3, 1, 1), (3, 0, 1), (2, 0, 2), (3, 1, 2), (5, 2, 1)] {
            for layout in [ConvGeometry.Layout.nchw, .cnhw] {
                let g = ConvGeometry(channels: 2, height: 7, width: 6, batch: 3, kernel: k, pad: pad,
                                     stride: stride, layout: layout)
                let x = rng.floats(g.inputCount), y = rng.floats(g.colRows * g.colColumns)
                var col = [Float](repeating: 0, count: y.count)
                im2col(g, input: x, col: &col)
                var back = [Float](repeating: 0, count: x.count)
                col2im(g, col: y, output: &back)
                var lhs = 0.0, rhs = 0.0
                for i in 0..<y.count { lhs += Double(col[i]) * Double(y[i]) }
                for i in 0..<x.count { rhs += Double(x[i]) * Double(back[i]) }
                XCTAssertEqual(lhs, rhs, accuracy: 1e-4 * max(1, abs(lhs)), "k\(k) p\(pad) s\(stride) \(layout)")
            }
        }
    }

    /// Spot check of im2col values and zero padding on a 1-channel 3×3 image.
    func testIm2colValues() {
        let g = ConvGeometry(channels: 1, height: 3, width: 3, batch: 1, layout: .nchw)
        let x: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
        var col = [Float](repeating: .nan, count: 9 * 9)
        im2col(g, input: x, col: &col)
        // Row (ky=0,kx=0): the pixel up-left of each output position.
        XCTAssertEqual(Array(col[0..<9]), [0, 0, 0, 0, 1, 2, 0, 4, 5])
        // Row (ky=1,kx=1): the image itself.
        XCTAssertEqual(Array(col[36..<45]), x)
        // Row (ky=2,kx=2): down-right neighbours.
        XCTAssertEqual(Array(col[72..<81]), [5, 6, 0, 8, 9, 0, 0, 0, 0])
    }

    /// The naive backward is itself checked against finite differences of the naive forward.
    func testNaiveConvBackwardFiniteDifference() {
        var rng = TestRNG(5)
        let (b, ci, co, h, w) = (1, 2, 2, 4, 3)
        var x = rng.floats(b * ci * h * w), wt = rng.floats(co * ci * 9)
        let bias = rng.floats(co), r = rng.floats(b * co * h * w)
        func loss(_ x: [Float], _ wt: [Float]) -> Double {
            var y = [Float](repeating: 0, count: r.count)
            naiveConv2DForward(input: x, weight: wt, bias: bias, output: &y, batch: b, inChannels: ci,
                               outChannels: co, height: h, width: w)
            return zip(y, r).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        var dx = [Float](repeating: 0, count: x.count), dw = [Float](repeating: 0, count: wt.count)
        var db = [Float](repeating: 0, count: co)
        naiveConv2DBackward(input: x, weight: wt, dOutput: r, dInput: &dx, dWeight: &dw, dBias: &db,
                            batch: b, inChannels: ci, outChannels: co, height: h, width: w)
        let eps: Float = 1e-2
        for i in 0..<x.count {
            let o = x[i]
            x[i] = o + eps; let lp = loss(x, wt)
            x[i] = o - eps; let lm = loss(x, wt)
            x[i] = o
            XCTAssertEqual(Float((lp - lm) / Double(2 * eps)), dx[i], accuracy: 1e-3)
        }
        for i in 0..<wt.count {
            let o = wt[i]
            wt[i] = o + eps; let lp = loss(x, wt)
            wt[i] = o - eps; let lm = loss(x, wt)
            wt[i] = o
            XCTAssertEqual(Float((lp - lm) / Double(2 * eps)), dw[i], accuracy: 1e-3)
        }
    }

    /// `parallelFor` honours `setThreads` (at most that many threads take part) and runs
    /// serially when nested inside another parallel region.
    func testParallelForHonoursTheThreadCountAndNestsSerially() {
        let threadIDs = Locked(Set<UInt>())
        func current() -> UInt { UInt(bitPattern: Int(bitPattern: pthread_self())) }
        for threads in [1, 2] {
            setThreads(threads)
            threadIDs.set([])
            parallelFor(64) { _ in
                threadIDs.insert(current())
                usleep(200)
            }
            XCTAssertLessThanOrEqual(threadIDs.count, threads, "threads \(threads)")
        }
        setThreads(2)
        var innerThreads = [Int](repeating: 0, count: 2)
        innerThreads.withUnsafeMutableBufferPointer { r in
            let p = r.baseAddress!
            parallelWorkers(2) { w in
                let ids = Locked(Set<UInt>())
                parallelFor(16) { _ in ids.insert(current()) }
                p[w] = ids.count
            }
        }
        XCTAssertEqual(innerThreads, [1, 1])
    }
}

/// A set guarded by a lock, for the thread-count test.
final class Locked<T: Hashable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value = Set<T>()
    init(_ v: Set<T>) { value = v }
    func set(_ v: Set<T>) { lock.lock(); value = v; lock.unlock() }
    func insert(_ v: T) { lock.lock(); value.insert(v); lock.unlock() }
    var count: Int { lock.lock(); defer { lock.unlock() }; return value.count }
}
