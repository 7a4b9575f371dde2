import Kernels

extension SeedCNN {
    /// `workers` training workspaces of capacity `microBatch` (grown on demand).
    func trainingWorkspaces(_ workers: Int) -> [Workspace] {
        while trainWorkspaces.count < workers {
            trainWorkspaces.append(Workspace(config: config, capacity: microBatch, training: true, winograd: usesWinograd))
        }
        for ws in trainWorkspaces where (ws.profile == nil) != (profile == nil) { ws.profile = profile == nil ? nil : [:] }
        return Array(trainWorkspaces.prefix(workers))
    }

    /// `workers` inference workspaces of capacity `microBatch` (grown on demand).
    func inferenceWorkspaces(_ workers: Int) -> [Workspace] {
        while inferenceWorkspaces.count < workers {
            inferenceWorkspaces.append(Workspace(config: config, capacity: microBatch, training: false, winograd: usesWinograd))
        }
        return Array(inferenceWorkspaces.prefix(workers))
    }

    /// Runs `body(chunk, workspace)` for the `chunks` micro-batches of a batch on up to
    /// `kernelThreads` workers: worker w takes chunks w, w + W, w + 2W, … Chunks must write
    /// disjoint memory; which worker runs a chunk never changes what it computes.
    func forEachMicroBatch(_ chunks: Int, workspaces: [Workspace], _ body: (Int, Workspace) -> Void) {
        let W = workspaces.count
        parallelWorkers(W) { w in
            for j in stride(from: w, to: chunks, by: W) { body(j, workspaces[w]) }
        }
    }

    /// Workers for `chunks` micro-batches: at most `kernelThreads`, at most one per chunk.
    func workerCount(_ chunks: Int) -> Int { max(1, min(kernelThreads, chunks)) }

    /// Forward pass of `B ≤ ws.capacity` NCHW images; leaves every activation in `ws`
    /// and the logits `[B, classes]` in `ws.logits`.
    func forward(_ ws: Workspace, input: UnsafePointer<Float>, batch B: Int) {
        precondition(B >= 1 && B <= ws.capacity)
        var x = input
        for (i, conv) in convs.enumerated() {
            let (H, W) = blockSize(i)
            if usesWinograd[i] {
                let block = WinogradConvBlock(inChannels: conv.inChannels, outChannels: conv.outChannels)
                timed(ws, "conv\(i).winograd") {
                    block.forward(input: x, batch: B, height: H, width: W, weight: params + convWeight(i), bias: params + convBias(i),
                                  u: ws.u[i]!, v: ws.v[i]!, m: ws.m!, output: ws.pooled[i], argmax: ws.argmax[i])
                }
                x = UnsafePointer(ws.pooled[i])
                continue
            }
            let g = conv.geometry(batch: B, height: H, width: W, layout: i == 0 ? .nchw : .cnhw)
            if usesSmallK(i) {
                // conv0 (K = 27): read straight from the input, GEMM, bias, ReLU and pool in one
                // kernel (the same numbers on every vector path).
                timed(ws, "conv\(i).convPool") {
                    _ = conv3x3Pool(g, input: x, weight: params + convWeight(i), bias: params + convBias(i),
                                    outChannels: conv.outChannels, output: ws.pooled[i], argmax: ws.argmax[i])
                }
                x = UnsafePointer(ws.pooled[i])
                continue
            }
            // convOut[Cout, B·H·W] = W[Cout, Cin·9] × col[Cin·9, B·H·W]   (bias added after pooling)
            timed(ws, "conv\(i).im2col") { im2col(g, input: x, col: ws.cols[i]) }
            timed(ws, "conv\(i).gemm") {
                sgemm(m: conv.outChannels, n: g.colColumns, k: g.colRows,
                      a: params + convWeight(i), b: ws.cols[i], c: ws.convOut)
            }
            // pooled[Cout, B, H/2, W/2] = relu(maxpool(convOut) + bias)
            timed(ws, "conv\(i).pool") {
                BiasReLUMaxPool.forward(ws.convOut, bias: params + convBias(i),
                                        channels: conv.outChannels, planesPerChannel: B, height: H, width: W,
                                        output: ws.pooled[i], argmax: ws.argmax[i])
            }
            x = UnsafePointer(ws.pooled[i])
        }
        timed(ws, "fc") {
            // fcIn[B, C·h·w] ← pooled_last[C, B, h·w]  (PyTorch flatten order)
            let C = config.widths.last!, ss = config.finalHeight * config.finalWidth
            let F = C * ss
            let last = ws.pooled[convs.count - 1]
            for c in 0..<C {
                for b in 0..<B {
                    let src = last + (c * B + b) * ss
                    let dst = ws.fcIn + b * F + c * ss
                    for s in 0..<ss { dst[s] = src[s] }
                }
            }
            // hidden[B, H] = relu(fcIn · W1ᵀ + b1);  logits[B, K] = hidden · W2ᵀ + b2
            fc1.forward(ws.fcIn, weight: params + fc1Weight, bias: params + fc1Bias, output: ws.hidden, batch: B)
            ReLU.forward(ws.hidden, ws.hidden, count: B * config.hidden)
            fc2.forward(ws.hidden, weight: params + fc2Weight, bias: params + fc2Bias, output: ws.logits, batch: B)
        }
    }

    /// Logits `[batch, classes]` for NCHW `input` (inference; any batch size, processed in
    /// micro-batches of `microBatch` on up to `kernelThreads` threads).
    public func logits(input: UnsafePointer<Float>, batch: Int) -> [Float] {
        let K = config.classes, per = config.inputCount, mb = microBatch
        var out = [Float](repeating: 0, count: batch * K)
        let chunks = (batch + mb - 1) / mb
        let workspaces = inferenceWorkspaces(workerCount(chunks))
        out.withUnsafeMutableBufferPointer { ob in
            let o = ob.baseAddress!
            forEachMicroBatch(chunks, workspaces: workspaces) { j, ws in
                let start = j * mb, n = min(mb, batch - start)
                forward(ws, input: input + start * per, batch: n)
                (o + start * K).update(from: ws.logits, count: n * K)
            }
        }
        return out
    }

    /// Soft-target cross-entropy summed over the batch, and the number of samples whose
    /// predicted class equals the argmax of their target row (inference, in micro-batches;
    /// sums taken in micro-batch order).
    public func evaluate(input: UnsafePointer<Float>, targets: UnsafePointer<Float>,
                         batch: Int) -> (lossSum: Double, correct: Int) {
        let K = config.classes, per = config.inputCount, mb = microBatch
        let chunks = (batch + mb - 1) / mb
        let workspaces = inferenceWorkspaces(workerCount(chunks))
        var results = [(lossSum: Double, correct: Int)](repeating: (0, 0), count: chunks)
        results.withUnsafeMutableBufferPointer { rb in
            let r = rb.baseAddress!
            forEachMicroBatch(chunks, workspaces: workspaces) { j, ws in
                let start = j * mb, n = min(mb, batch - start)
                forward(ws, input: input + start * per, batch: n)
                let e = SoftTargetCrossEntropy.evaluate(logits: ws.logits, targets: targets + start * K,
                                                        batch: n, classes: K)
                r[j] = (e.lossSum, e.correct)
            }
        }
        return results.reduce((0.0, 0)) { ($0.0 + $1.lossSum, $0.1 + $1.correct) }
    }

    /// Mean soft-target cross-entropy of a batch (inference only, no gradients).
    public func loss(input: UnsafePointer<Float>, targets: UnsafePointer<Float>, batch: Int) -> Float {
        Float(evaluate(input: input, targets: targets, batch: batch).lossSum / Double(batch))
    }
}
