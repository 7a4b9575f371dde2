/// Activation and scratch buffers for one batch capacity, allocated once and reused.
///
/// Shapes for block `i` with input `H×W` (output `H/2 × W/2`), batch `B ≤ capacity`:
///   col[i]     [Cin·9, B·H·W]        im2col of the block input (kept for dW; unused by a block 0
///                                    on the small-K kernels, `SeedCNN.smallKMaxRows`, but still
///                                    allocated, so the memory estimate holds on every CPU)
///   pooled[i]  [Cout, B, H/2, W/2]   post-ReLU pooled output (= next block's input, CNHW)
///   argmax[i]  [Cout, B, H/2, W/2]   window index 0…3 of each max
///   dPooled[i] same as pooled[i]     gradient w.r.t. pooled[i]
///   convOut    [Cout, B·H·W]         raw GEMM output; reused as its gradient in backward
///   dCol       [Cin·9, B·H·W]        scratch for the input gradient (blocks ≥ 1)
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
        let L = Workspace.Layout(config: config, capacity: B, winograd: winograd)
        func f(_ n: Double) -> UnsafeMutablePointer<Float> { floats(Int(n)) }
        u = L.u.map { $0.map(f) }
        pooled = L.pooled.map(f)
        argmax = L.pooled.map { bytes(Int($0)) }
        if training {
            dPooled = L.pooled.map(f)
            cols = L.cols.map(f)
            v = L.v.map { $0 > 0 ? f($0) : nil }
        } else {
            let shared = f(L.cols.max() ?? 0)
            cols = L.cols.map { _ in shared }
            let sharedV = f(L.v.max() ?? 0)
            v = L.v.map { $0 > 0 ? sharedV : nil }
        }
        convOut = f(L.convOut)
        if L.m > 0 { m = f(L.m) }
        if training && L.du > 0 { du = f(L.du) }
        fcIn = f(L.fcIn)
        hidden = f(L.hidden)
        logits = f(L.logits)
        if training {
            if L.dCol > 0 { dCol = f(L.dCol) }
            dFcIn = f(L.fcIn)
            dHidden = f(L.hidden)
            dLogits = f(L.logits)
        }
        self.owned = owned
        self.allocatedBytes = allocated
    }

    /// Elements of every buffer, in floating point so that no size can overflow
    /// (exact below 2^53). `init` allocates from it; `byteCount` sums it.
    struct Layout {
        /// Per block: Winograd's transformed weights U (nil for im2col blocks).
        var u: [Double?] = []
        /// Per block: the pooled output (also its argmax bytes and, training, its gradient).
        var pooled: [Double] = []
        /// Per block: im2col buffer (0 for Winograd blocks) and Winograd V (0 for im2col blocks).
        var cols: [Double] = []
        var v: [Double] = []
        /// Shared across blocks: the largest raw conv output, im2col input gradient (blocks ≥ 1),
        /// Winograd M and dU (0 where no block needs one).
        var convOut = 0.0, dCol = 0.0, m = 0.0, du = 0.0
        /// The fc head: flattened features, hidden layer, logits.
        var fcIn = 0.0, hidden = 0.0, logits = 0.0

        init(config: CNNConfig, capacity: Int, winograd: [Bool]) {
            let B = Double(capacity)
            func slab(_ n: Double) -> Double { n + 16 }  // winogradSlabStride
            var cin = Double(config.inputChannels)
            for (i, width) in config.widths.enumerated() {
                let cout = Double(width)
                let (h, w) = (config.height(block: i), config.width(block: i))
                let area = Double(h) * Double(w), halfArea = Double(h / 2) * Double(w / 2)
                if winograd[i] {
                    let tiles = B * halfArea  // WinogradConvBlock.tiles
                    u.append(16 * slab(cout * cin))
                    cols.append(0)
                    v.append(16 * slab(cin * tiles))
                    m = max(m, 16 * slab(cout * tiles))
                    du = max(du, 16 * slab(cout * cin))
                } else {
                    u.append(nil)
                    cols.append(cin * 9 * B * area)
                    v.append(0)
                    if i > 0 { dCol = max(dCol, cin * 9 * B * area) }
                    convOut = max(convOut, cout * B * area)
                }
                pooled.append(cout * B * halfArea)
                cin = cout
            }
            fcIn = B * Double(config.widths.last ?? config.inputChannels) * Double(config.finalHeight) * Double(config.finalWidth)
            hidden = B * Double(config.hidden)
            logits = B * Double(config.classes)
        }
    }

    /// The bytes `init` allocates for these arguments (each buffer at least one element),
    /// computed in floating point so that no size can overflow: callers compare it with the
    /// machine's memory before building a network for images of a size they were given
    /// (`SeedCNN.memoryNeeded`).
    static func byteCount(config: CNNConfig, capacity: Int, training: Bool, winograd: [Bool]) -> Double {
        let L = Layout(config: config, capacity: capacity, winograd: winograd)
        func n(_ x: Double) -> Double { max(x, 1) }
        let heads = n(L.fcIn) + n(L.hidden) + n(L.logits)
        var floats = L.u.reduce(0) { $0 + ($1.map(n) ?? 0) } + L.pooled.reduce(0) { $0 + n($1) } * (training ? 2 : 1)
        if training {
            floats += L.cols.reduce(0) { $0 + n($1) } + L.v.reduce(0) { $0 + ($1 > 0 ? n($1) : 0) }
            floats += (L.dCol > 0 ? n(L.dCol) : 0) + (L.du > 0 ? n(L.du) : 0) + heads
        } else {
            floats += n(L.cols.max() ?? 0) + n(L.v.max() ?? 0)
        }
        floats += n(L.convOut) + (L.m > 0 ? n(L.m) : 0) + heads
        return 4 * floats + L.pooled.reduce(0) { $0 + n($1) }
    }

    deinit {
        for p in owned { p.deallocate() }
    }
}
