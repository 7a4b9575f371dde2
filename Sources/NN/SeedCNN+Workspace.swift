/// Activation and scratch buffers for one batch capacity, allocated once and reused.
///
/// Shapes for block `i` with input side `S` (output side `S/2`), batch `B ≤ capacity`:
///   col[i]     [Cin·9, B·S·S]        im2col of the block input (kept for dW)
///   pooled[i]  [Cout, B, S/2, S/2]   post-ReLU pooled output (= next block's input, CNHW)
///   argmax[i]  [Cout, B, S/2, S/2]   window index 0…3 of each max
///   dPooled[i] same as pooled[i]     gradient w.r.t. pooled[i]
///   convOut    [Cout, B·S·S]         raw GEMM output; reused as its gradient in backward
///   dCol       [Cin·9, B·S·S]        scratch for the input gradient (blocks ≥ 1)
///   fcIn/dFcIn [B, F]  hidden/dHidden [B, hidden]  logits/dLogits [B, classes]
/// Winograd blocks (see `WinogradConvBlock`) use instead of col/convOut/dCol:
///   u[i] [16, Cout, Cin], v[i] [16, Cin, T] (kept for backward), m [16, Cout, T] (shared,
///   also dM), du [16, Cout, Cin] (shared scratch).
/// Inference workspaces share one `col`/`v` buffer across blocks and skip gradient buffers.
final class Workspace {
    let capacity: Int
    let training: Bool
    var cols: [UnsafeMutablePointer<Float>] = []
    var pooled: [UnsafeMutablePointer<Float>] = []
    var argmax: [UnsafeMutablePointer<UInt8>] = []
    var dPooled: [UnsafeMutablePointer<Float>] = []
    var convOut: UnsafeMutablePointer<Float>
    var dCol: UnsafeMutablePointer<Float>?
    var u: [UnsafeMutablePointer<Float>?] = []
    var v: [UnsafeMutablePointer<Float>?] = []
    var m: UnsafeMutablePointer<Float>?
    var du: UnsafeMutablePointer<Float>?
    var fcIn: UnsafeMutablePointer<Float>
    var hidden: UnsafeMutablePointer<Float>
    var logits: UnsafeMutablePointer<Float>
    var dFcIn: UnsafeMutablePointer<Float>?
    var dHidden: UnsafeMutablePointer<Float>?
    var dLogits: UnsafeMutablePointer<Float>?
    /// Seconds per phase while profiling (nil otherwise); see `SeedCNN.timed`.
    var profile: [String: Double]?
    /// Bytes allocated for this workspace (equal to `Workspace.byteCount` of its configuration).
    let allocatedBytes: Int
    private var owned: [UnsafeMutableRawPointer] = []

    init(config: CNNConfig, capacity B: Int, training: Bool, winograd: [Bool]) {
        self.capacity = B
        self.training = training
        var owned: [UnsafeMutableRawPointer] = []
        var allocated = 0
        func floats(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
            p.initialize(repeating: 0, count: max(n, 1))
            owned.append(UnsafeMutableRawPointer(p))
            allocated += 4 * max(n, 1)
            return p
        }
        func bytes(_ n: Int) -> UnsafeMutablePointer<UInt8> {
            let p = UnsafeMutablePointer<UInt8>.allocate(capacity: max(n, 1))
            p.initialize(repeating: 0, count: max(n, 1))
            owned.append(UnsafeMutableRawPointer(p))
            allocated += max(n, 1)
            return p
        }
        var cin = config.inputChannels
        var maxCol = 0, maxConvOut = 0, maxDCol = 0
        var colSizes: [Int] = []
        var vSizes: [Int] = []
        var maxV = 0, maxM = 0, maxDU = 0
        for (i, cout) in config.widths.enumerated() {
            let S = config.inputSize >> i
            if winograd[i] {
                colSizes.append(0)
                let block = WinogradConvBlock(inChannels: cin, outChannels: cout)
                vSizes.append(block.vCount(batch: B, size: S))
                maxV = max(maxV, block.vCount(batch: B, size: S))
                maxM = max(maxM, block.mCount(batch: B, size: S))
                maxDU = max(maxDU, block.uCount)
                u.append(floats(block.uCount))
            } else {
                let col = cin * 9 * B * S * S
                colSizes.append(col)
                vSizes.append(0)
                maxCol = max(maxCol, col)
                if i > 0 { maxDCol = max(maxDCol, col) }
                maxConvOut = max(maxConvOut, cout * B * S * S)
                u.append(nil)
            }
            let pooledCount = cout * B * (S / 2) * (S / 2)
            pooled.append(floats(pooledCount))
            argmax.append(bytes(pooledCount))
            if training { dPooled.append(floats(pooledCount)) }
            cin = cout
        }
        if training {
            cols = colSizes.map { floats($0) }
            v = vSizes.map { $0 > 0 ? floats($0) : nil }
        } else {
            let shared = floats(maxCol)
            cols = colSizes.map { _ in shared }
            let sharedV = floats(maxV)
            v = vSizes.map { $0 > 0 ? sharedV : nil }
        }
        convOut = floats(maxConvOut)
        if maxM > 0 { m = floats(maxM) }
        if training && maxDU > 0 { du = floats(maxDU) }
        let F = config.flatFeatures
        fcIn = floats(B * F)
        hidden = floats(B * config.hidden)
        logits = floats(B * config.classes)
        if training {
            if maxDCol > 0 { dCol = floats(maxDCol) }
            dFcIn = floats(B * F)
            dHidden = floats(B * config.hidden)
            dLogits = floats(B * config.classes)
        }
        self.owned = owned
        self.allocatedBytes = allocated
    }

    /// The bytes `init` allocates for these arguments, computed in floating point so that
    /// no size can overflow: callers compare it with the machine's memory before building
    /// a network for images of a size they were given (`SeedCNN.memoryNeeded`).
    static func byteCount(config: CNNConfig, capacity: Int, training: Bool, winograd: [Bool]) -> Double {
        let B = Double(capacity)
        func n(_ x: Double) -> Double { max(x, 1) }
        var floats = 0.0, bytes = 0.0
        var cin = Double(config.inputChannels)
        var maxCol = 0.0, maxConvOut = 0.0, maxDCol = 0.0, maxV = 0.0, maxM = 0.0, maxDU = 0.0
        var cols: [Double] = [], vs: [Double] = []
        for (i, width) in config.widths.enumerated() {
            let cout = Double(width)
            let S = Double(config.inputSize >> i), half = Double((config.inputSize >> i) / 2)
            if winograd[i] {
                let tiles = B * half * half
                cols.append(0)
                vs.append(16 * (cin * tiles + 16))
                maxV = max(maxV, 16 * (cin * tiles + 16))
                maxM = max(maxM, 16 * (cout * tiles + 16))
                maxDU = max(maxDU, 16 * (cout * cin + 16))
                floats += n(16 * (cout * cin + 16))           // u
            } else {
                let col = cin * 9 * B * S * S
                cols.append(col)
                vs.append(0)
                maxCol = max(maxCol, col)
                if i > 0 { maxDCol = max(maxDCol, col) }
                maxConvOut = max(maxConvOut, cout * B * S * S)
            }
            let pooled = cout * B * half * half
            floats += n(pooled) * (training ? 2 : 1)         // pooled, dPooled
            bytes += n(pooled)                                // argmax
            cin = cout
        }
        if training {
            floats += cols.reduce(0) { $0 + n($1) } + vs.reduce(0) { $0 + ($1 > 0 ? n($1) : 0) }
        } else {
            floats += n(maxCol) + n(maxV)
        }
        floats += n(maxConvOut)
        if maxM > 0 { floats += n(maxM) }
        if training && maxDU > 0 { floats += n(maxDU) }
        let F = Double(config.widths.last ?? config.inputChannels) * Double(config.finalSide) * Double(config.finalSide)
        let heads = n(B * F) + n(B * Double(config.hidden)) + n(B * Double(config.classes))
        floats += heads
        if training {
            if maxDCol > 0 { floats += n(maxDCol) }
            floats += heads
        }
        return 4 * floats + bytes
    }

    deinit {
        for p in owned { p.deallocate() }
    }
}
