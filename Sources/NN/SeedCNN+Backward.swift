import Kernels

extension SeedCNN {
    /// Forward + soft-target cross-entropy + backward on NCHW `input [batch, C, H, W]` and
    /// `targets [batch, classes]`. Gradients are overwritten (not accumulated) in the
    /// gradient buffer; returns the mean loss. Call an optimiser afterwards (or use
    /// `trainStep(input:targets:batch:optimizer:)`).
    ///
    /// The batch is split into micro-batches of `microBatch` samples, run on up to
    /// `kernelThreads` workers, each with its own workspace and single-threaded BLAS;
    /// micro-batch j writes its gradient (scaled by 1/batch) into slot j, and the slots
    /// are added in the order 0, 1, 2, … So the result is the same for any thread count.
    @discardableResult
    public func trainStep(input: UnsafePointer<Float>, targets: UnsafePointer<Float>, batch B: Int) -> Float {
        precondition(B >= 1, "trainStep: empty batch")
        let mb = microBatch, K = config.classes, per = config.inputCount
        let chunks = (B + mb - 1) / mb
        let round = SeedCNN.microBatchesPerRound
        while gradientSlots.count < min(chunks - 1, round) { gradientSlots.append(.allocate(capacity: parameterCount)) }
        // Micro-batch j > 0 writes slot (j − 1) mod `round` (micro-batch 0 writes the gradient
        // itself); a round's slots are added in j order before the next round reuses them.
        // So every gradient entry is ((g0 + g1) + g2) + …, whatever the thread count, and
        // memory stays at `round` slots however large the batch.
        func slot(_ j: Int) -> UnsafeMutablePointer<Float> { j == 0 ? grads : gradientSlots[(j - 1) % round] }
        let workspaces = trainingWorkspaces(workerCount(min(chunks, round)))
        var losses = [Double](repeating: 0, count: chunks)
        losses.withUnsafeMutableBufferPointer { lb in
            let l = lb.baseAddress!
            for first in stride(from: 0, to: chunks, by: round) {
                let last = min(chunks, first + round)
                forEachMicroBatch(last - first, workspaces: workspaces) { k, ws in
                    let j = first + k, start = j * mb, n = min(mb, B - start)
                    l[j] = microStep(ws, input: input + start * per, targets: targets + start * K, batch: n,
                                     gradientScale: 1 / Float(B), gradients: slot(j))
                }
                let added = (max(first, 1)..<last).map(slot), g = grads
                if added.isEmpty { continue }
                timed(workspaces[0], "reduce") {
                    parallelChunks(parameterCount, minChunk: 1 << 14) { r in
                        for s in added {
                            for i in r { g[i] += s[i] }
                        }
                    }
                }
            }
        }
        collectProfile(workspaces)
        return Float(losses.reduce(0, +) / Double(B))
    }

    /// Forward and backward of one micro-batch of `B` samples in `ws`: writes its gradient,
    /// with dLoss/dLogits scaled by `gradientScale`, to `gradients` (overwritten); returns
    /// the loss summed over its samples.
    func microStep(_ ws: Workspace, input: UnsafePointer<Float>, targets: UnsafePointer<Float>, batch B: Int,
                   gradientScale: Float, gradients grads: UnsafeMutablePointer<Float>) -> Double {
        forward(ws, input: input, batch: B)
        let K = config.classes, Hd = config.hidden
        let loss = timed(ws, "loss") {
            SoftTargetCrossEntropy.forwardSum(logits: ws.logits, targets: targets, batch: B, classes: K,
                                              dLogits: ws.dLogits!, gradientScale: gradientScale)
        }
        let last = convs.count - 1
        timed(ws, "fcBack") {
            fc2.backward(ws.hidden, weight: params + fc2Weight, dOutput: ws.dLogits!,
                         dWeight: grads + fc2Weight, dBias: grads + fc2Bias, dInput: ws.dHidden!, batch: B)
            ReLU.backward(output: ws.hidden, dOutput: ws.dHidden!, dInput: ws.dHidden!, count: B * Hd)
            fc1.backward(ws.fcIn, weight: params + fc1Weight, dOutput: ws.dHidden!,
                         dWeight: grads + fc1Weight, dBias: grads + fc1Bias, dInput: ws.dFcIn!, batch: B)
            // dPooled_last[C, B, h·w] ← dFcIn[B, C·h·w]
            let C = config.widths.last!, ss = config.finalHeight * config.finalWidth, F = C * ss
            let dst0 = ws.dPooled[last], src0 = ws.dFcIn!
            for c in 0..<C {
                for b in 0..<B {
                    let src = src0 + b * F + c * ss
                    let dst = dst0 + (c * B + b) * ss
                    for s in 0..<ss { dst[s] = src[s] }
                }
            }
        }
        for i in stride(from: last, through: 0, by: -1) {
            let conv = convs[i]
            let (H, W) = blockSize(i)
            if usesWinograd[i] {
                let block = WinogradConvBlock(inChannels: conv.inChannels, outChannels: conv.outChannels)
                timed(ws, "conv\(i).winogradBack") {
                    block.backward(dOutput: ws.dPooled[i], output: ws.pooled[i], argmax: ws.argmax[i], batch: B, height: H, width: W,
                                   u: ws.u[i]!, v: ws.v[i]!, m: ws.m!, du: ws.du!,
                                   dWeight: grads + convWeight(i), dBias: grads + convBias(i),
                                   dInput: i > 0 ? ws.dPooled[i - 1] : nil)
                }
                continue
            }
            let g = conv.geometry(batch: B, height: H, width: W, layout: i == 0 ? .nchw : .cnhw)
            if usesSmallK(i) {
                // dW and dBias straight from the pooled gradient and the block's input (conv0
                // needs no input gradient).
                timed(ws, "conv\(i).convPoolBack") {
                    _ = conv3x3PoolBackward(g, input: i == 0 ? input : UnsafePointer(ws.pooled[i - 1]), dOutput: ws.dPooled[i],
                                            output: ws.pooled[i], argmax: ws.argmax[i], outChannels: conv.outChannels,
                                            dWeight: grads + convWeight(i), dBias: grads + convBias(i))
                }
                continue
            }
            // dConv[Cout, B·H·W] (in convOut) and dBias from the pooled gradient.
            timed(ws, "conv\(i).poolBack") {
                BiasReLUMaxPool.backward(dOutput: ws.dPooled[i], output: ws.pooled[i], argmax: ws.argmax[i],
                                         channels: conv.outChannels, planesPerChannel: B, height: H, width: W,
                                         dInput: ws.convOut, dBias: grads + convBias(i))
            }
            // dW = dConv × colᵀ
            timed(ws, "conv\(i).gemmW") {
                sgemm(transB: true, m: conv.outChannels, n: g.colRows, k: g.colColumns,
                      a: ws.convOut, b: ws.cols[i], c: grads + convWeight(i))
            }
            if i > 0 {
                // dCol = Wᵀ × dConv;  dPooled[i-1] = col2im(dCol)
                timed(ws, "conv\(i).gemmX") {
                    sgemm(transA: true, m: g.colRows, n: g.colColumns, k: conv.outChannels,
                          a: params + convWeight(i), b: ws.convOut, c: ws.dCol!)
                }
                timed(ws, "conv\(i).col2im") { col2im(g, col: ws.dCol!, output: ws.dPooled[i - 1]) }
            }
        }
        return loss
    }

    /// `trainStep` followed by one optimiser update; returns the mean loss.
    @discardableResult
    public func trainStep(input: UnsafePointer<Float>, targets: UnsafePointer<Float>, batch: Int,
                          optimizer: inout Adam) -> Float {
        let loss = trainStep(input: input, targets: targets, batch: batch)
        timed("adam") { optimizer.step(self) }
        return loss
    }
}
